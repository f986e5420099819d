"""Fit the verifier's calibration on the SciFact validation split and write models/verifier/calibration.json.

    WORKBENCH_CACHE_DIR=/work/cache python -m training.verifier.calibrate --data /work/cache/verifier-data

Fits (1) a sentence-level softmax temperature (NLL), (2) a multinomial logistic map from an abstract's best
P(SUPPORTS)/P(REFUTES) sentence logits to calibrated abstract probabilities, (3) the abstention and rationale
thresholds (grid, best open-setting label-only F1, then label+rationale F1). Only the validation claims are used;
ECE is also reported 2-fold cross-fitted (calibrator fitted on one half of the claims, measured on the other).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression

from helpers.nli import CrossEncoder, model_dir, softmax
from helpers.search import search
from helpers.store import open_corpus
from helpers.verify import LABELS, Calibration, abstract_features, decide
from helpers.verify_metrics import abstract_level, expected_calibration_error, sentence_level

CLASS = {"SUPPORT": 0, "CONTRADICT": 1}
TO_SCIFACT = {"SUPPORTS": "SUPPORT", "REFUTES": "CONTRADICT"}


def collect(claims: list[dict], top_k: int, encoder: CrossEncoder) -> list[dict]:
    """Per (claim, candidate abstract): sentence logits, gold class, and whether retrieval found it."""
    store = open_corpus("scifact", progress=False)
    items, pairs = [], []
    for c in claims:
        retrieved = [h.doc_id.split(":")[1] for h in search(store, c["claim"], k=top_k)]
        cited = [str(d) for d in c.get("cited_doc_ids", [])]
        for doc in dict.fromkeys(retrieved + cited + list(c["evidence"])):
            paper = store.get([f"scifact:{doc}"])[0]
            sets = c["evidence"].get(doc, [])
            rationale = {i: CLASS[s["label"]] for s in sets for i in s["sentences"]}
            gold = CLASS[sets[0]["label"]] if sets else 2
            sent_gold = [rationale.get(i, 2) for i in range(len(paper.sentences))]
            items.append({"claim": c, "doc": doc, "sentences": paper.sentences, "gold": gold, "sent_gold": sent_gold,
                          "open": doc in retrieved, "oracle": doc in cited, "start": len(pairs)})
            pairs += [(c["claim"], s) for s in paper.sentences]
    logits = encoder.logits(pairs)
    for it in items:
        it["logits"] = logits[it["start"]:it["start"] + len(it["sentences"])]
    return items


def fit_temperature(items: list[dict]) -> float:
    logits = np.concatenate([it["logits"] for it in items])
    gold = np.concatenate([it["sent_gold"] for it in items]).astype(int)

    def nll(t: float) -> float:
        return -float(np.log(softmax(logits, t)[np.arange(len(gold)), gold] + 1e-12).mean())

    return float(minimize_scalar(nll, bounds=(0.2, 10.0), method="bounded").x)


def fit_map(items: list[dict], temperature: float) -> tuple[list, list]:
    x = np.stack([abstract_features(softmax(it["logits"], temperature)) for it in items])
    y = np.array([it["gold"] for it in items])
    lr = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    return lr.coef_.tolist(), lr.intercept_.tolist()


def predictions(items: list[dict], cal: Calibration, setting: str) -> tuple[list[dict], list[float], list[bool]]:
    """SciFact-format predictions, plus (confidence, correct) per checked abstract for ECE."""
    by_claim: dict[int, dict] = {}
    conf, ok = [], []
    for it in items:
        if not it[setting]:
            continue
        pred = by_claim.setdefault(it["claim"]["id"], {"id": it["claim"]["id"], "evidence": {}})
        v = decide(softmax(it["logits"], cal.temperature), it["sentences"], cal)
        conf.append(v.confidence)
        ok.append(LABELS.index(v.label) == it["gold"])
        if v.label in TO_SCIFACT:
            pred["evidence"][it["doc"]] = {"label": TO_SCIFACT[v.label], "sentences": v.sentences}
    return list(by_claim.values()), conf, ok


def metrics(items: list[dict], claims: list[dict], cal: Calibration, setting: str) -> dict:
    preds, conf, ok = predictions(items, cal, setting)
    ab, se = abstract_level(preds, claims), sentence_level(preds, claims)
    return {"label_only_f1": ab["label_only"]["f1"], "label_rationale_f1": ab["label_rationale"]["f1"],
            "sentence_label_f1": se["selection_label"]["f1"], "ece": expected_calibration_error(conf, ok)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--model", type=Path, default=model_dir())
    ap.add_argument("--top-k", type=int, default=3)
    args = ap.parse_args()
    claims = [json.loads(line) for line in open(args.data / "val_claims.jsonl", encoding="utf-8")]
    items = collect(claims, args.top_k, CrossEncoder(args.model, threads=1))
    temp = fit_temperature(items)
    coef, intercept = fit_map(items, temp)
    grid = [round(x, 2) for x in np.arange(0.2, 0.81, 0.05)]
    best = None
    for et in grid:
        for rt in grid:
            cal = Calibration(temp, rt, et, coef, intercept)
            m = metrics(items, claims, cal, "open")
            key = (round(m["label_only_f1"], 3), m["label_rationale_f1"])
            if best is None or key > best[0]:
                best = (key, cal)
    cal = best[1]
    # cross-fitted ECE: calibrator fitted on one half of the claims, measured on the other
    ids = sorted(c["id"] for c in claims)
    half = set(random.Random(20).sample(ids, len(ids) // 2))
    folds = [[it for it in items if (it["claim"]["id"] in half) == f] for f in (True, False)]
    cross = {}
    for setting in ("open", "oracle"):
        conf, ok = [], []
        for fit_on, test_on in ((folds[0], folds[1]), (folds[1], folds[0])):
            c2, i2 = fit_map(fit_on, temp)
            _, cf, k = predictions(test_on, Calibration(temp, cal.rationale_threshold, cal.evidence_threshold, c2, i2), setting)
            conf += cf
            ok += k
        cross[setting] = expected_calibration_error(conf, ok)
    cal.meta = {"fitted_on": f"SciFact train, validation split ({len(claims)} claims, seed 20)",
                "top_k": args.top_k, "val_open": metrics(items, claims, cal, "open"),
                "val_oracle": metrics(items, claims, cal, "oracle"), "cross_fitted_ece": cross}
    (args.model / "calibration.json").write_text(cal.to_json() + "\n")
    print(cal.to_json())


if __name__ == "__main__":
    main()
