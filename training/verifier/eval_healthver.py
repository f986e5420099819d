"""Pair-level evaluation on the held-out HealthVer dev claims (30% of claims, never trained on).

    WORKBENCH_CACHE_DIR=/work/cache python -m training.verifier.eval_healthver --data /work/cache/verifier-data
Each evidence passage is treated as a one-abstract candidate; reports accuracy, macro-F1 and ECE for the
trained verifier (with the per-pair map of a paper found for the claim, and with the map of a paper chosen for it)
and the lexical baseline.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sklearn.metrics import accuracy_score, f1_score

from helpers.evaluation.metrics import expected_calibration_error
from helpers.records import LABELS, Paper
from helpers.verification.verifier import LexicalVerifier, load_verifier


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, required=True)
    args = ap.parse_args()
    rows = [json.loads(line) for line in open(args.data / "healthver_heldout.jsonl", encoding="utf-8")]
    pairs = [(r["claim"], Paper(id=f"healthver:{i}", title="", abstract=r["sentence"])) for i, r in enumerate(rows)]
    gold = [LABELS[r["label"]] for r in rows]
    result = {"pairs": len(rows), "claims": len({r["claim"] for r in rows}),
              "evidence_share": round(sum(g != "NOT ENOUGH INFO" for g in gold) / len(gold), 3)}
    nli = load_verifier()
    # the passages were retrieved for their claims and then judged (57% neutral): between a paper found for the
    # claim (the per-pair map) and one chosen for it (the cited map), so both are reported
    runs = [(f"{nli.name} (as found)", nli, False), (f"{nli.name} (as cited)", nli, True),
            (LexicalVerifier.name, LexicalVerifier(), False)]
    for name, verifier, cited in runs:
        t0 = time.perf_counter()
        verdicts = verifier.verify_many(pairs, cited=cited)
        secs = time.perf_counter() - t0
        pred = [v.label for v in verdicts]
        result[name] = {
            "accuracy": round(accuracy_score(gold, pred), 3),
            "macro_f1": round(f1_score(gold, pred, average="macro"), 3),
            "ece": round(expected_calibration_error([v.confidence for v in verdicts], [p == g for p, g in zip(pred, gold, strict=True)]), 3),
            "evidence_pairs_judged_nei": sum(g != "NOT ENOUGH INFO" and p == "NOT ENOUGH INFO"
                                             for g, p in zip(gold, pred, strict=True)),
            "pairs_per_s": round(len(pairs) / secs, 1)}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
