"""Fit the verifier's calibration on the SciFact validation split and write models/verifier/calibration.json.

    WORKBENCH_CACHE_DIR=/work/cache python -m training.verifier.calibrate --data /work/cache/verifier-data

This is the fit for models trained on the 80/20 split (run.sh). The shipped calibration is fitted the same way
(`select`) on the out-of-fold scores of all 809 train claims by `cv.py fit`.
Only the validation claims (never trained on) are used. Steps:
1. the 3-way model's sentence temperature (NLL on gold rationale / non-rationale sentences);
2. every validation claim against its hybrid-retrieved top-10 abstracts plus its cited and gold abstracts,
   scored once by `NliVerifier.score` (the inference code itself);
3. four logistic maps: P(evidence) for a paper found for the claim (fitted on the ranked candidates) and for one
   chosen for it (fitted on the cited abstracts), P(evidence) for ranked candidates (adds rank, relevance
   margin and the retrieval's own scores), P(REFUTES | evidence) from the direction features;
4. the evidence threshold (best open-setting label-only F1) and rationale threshold (then label+rationale F1),
   chosen on 5-fold cross-fitted predictions, and reported cross-fitted: maps fitted on 4/5 of the claims,
   measured on the other 1/5. Those cross-fitted figures are the honest ones; in-sample figures are printed too.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression

from helpers.evaluation.metrics import abstract_level, expected_calibration_error, sentence_level
from helpers.records import LABELS
from helpers.verification.calibration import Calibration, ranked_features
from helpers.verification.crossencoder import model_dir, softmax
from helpers.verification.verifier import NliVerifier, decide

CLASS = {"SUPPORT": 0, "CONTRADICT": 1}
TO_SCIFACT = {"SUPPORTS": "SUPPORT", "REFUTES": "CONTRADICT"}
DEPTH = 10
FOLDS = 5
GRID = [round(x, 2) for x in np.arange(0.15, 0.71, 0.05)]  # thresholds tried


def collect(claims: list[dict], corpus: Path, verifier: NliVerifier) -> list[dict]:
    """Per (claim, candidate abstract): model scores, gold class, retrieval rank (99 = not in the top DEPTH) and
    retrieval scores (None if not retrieved)."""
    from helpers.evaluation.verification import (
        corpus_store,  # retrieval imports are heavy; the metrics below need none
    )
    from helpers.retrieval.search import hybrid_scored

    store = corpus_store(corpus)
    items, pairs = [], []
    for c in claims:
        hits = {h.doc_id.split(":", 1)[1]: row for h, row in hybrid_scored(store, c["claim"], k=DEPTH)}
        ranked, cited = list(hits), [str(d) for d in c.get("cited_doc_ids", [])]
        for doc in dict.fromkeys(ranked + cited + list(c["evidence"])):
            paper = store.get([f"{store.name}:{doc}"])[0]
            sets = c["evidence"].get(doc, [])
            items.append({"claim": c, "doc": doc, "gold": CLASS[sets[0]["label"]] if sets else 2,
                          "rank": ranked.index(doc) if doc in ranked else 99, "cited": doc in cited,
                          "retrieval": hits.get(doc)})
            pairs.append((c["claim"], paper))
    for it, (scores, sents) in zip(items, verifier.score(pairs), strict=True):
        it["scores"], it["sentences"] = scores, sents
    return items


def sentence_temperature(claims: list[dict], corpus: Path, verifier: NliVerifier) -> float:
    """Temperature of the 3-way model's softmax, fitted by NLL on the gold evidence abstracts' sentences."""
    from helpers.evaluation.verification import corpus_store

    store = corpus_store(corpus)
    pairs, gold = [], []
    for c in claims:
        for doc, sets in c["evidence"].items():
            rationale = {i: CLASS[s["label"]] for s in sets for i in s["sentences"]}
            for i, s in enumerate(store.get([f"{store.name}:{doc}"])[0].sentences):
                pairs.append((c["claim"], s))
                gold.append(rationale.get(i, 2))
    return fit_temperature(verifier.encoder.logits(pairs), np.array(gold))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The softmax temperature minimising the NLL of labels `y` (0 SUP, 1 REF, 2 NEI) under 3-way `logits`."""

    def nll(t: float) -> float:
        return -float(np.log(softmax(logits, t)[np.arange(len(y)), y] + 1e-12).mean())

    return float(minimize_scalar(nll, bounds=(0.2, 10.0), method="bounded").x)


def with_context(items: list[dict], k: int) -> None:
    """Attach ranked features over each claim's top-k candidates (others get none); the items must carry their
    retrieval scores (`retrieval`, from `helpers.retrieval.search.hybrid_scored`)."""
    by: dict[int, list[dict]] = {}
    for it in items:
        it["context"] = None
        if it["rank"] < k:
            by.setdefault(it["claim"]["id"], []).append(it)
    for group in by.values():
        group.sort(key=lambda it: it["rank"])
        if any(g.get("retrieval") is None for g in group):
            raise ValueError("a ranked candidate lacks its retrieval scores: rebuild the items (cv.py bundle, or "
                             "calibrate.py without an old --cache)")
        for it, ctx in zip(group, ranked_features([g["scores"] for g in group], [g["retrieval"] for g in group]),
                           strict=True):
            it["context"] = ctx


def _lr(x: list[list[float]], y: list[bool]) -> list[float]:
    m = LogisticRegression(C=1.0, max_iter=2000).fit(np.asarray(x), np.asarray(y))
    return [*map(float, m.coef_[0]), float(m.intercept_[0])]


def fit_maps(items: list[dict], cal: Calibration) -> Calibration:
    """The four logistic maps, fitted on `items` (which must carry context for the ranked map): P(evidence) for a
    paper found for the claim (the ranked candidates, without their rank features), for a paper chosen for it (the
    cited abstracts), for ranked candidates, and P(REFUTES | evidence)."""
    ranked = [it for it in items if it["context"] is not None]
    cited = [it for it in items if it["cited"]]
    evidence = [it for it in items if it["gold"] < 2]
    return Calibration(**{**cal.__dict__,
        "pair_evidence": _lr([it["scores"].evidence_features() for it in ranked], [it["gold"] < 2 for it in ranked]),
        "cited_evidence": _lr([it["scores"].evidence_features() for it in cited], [it["gold"] < 2 for it in cited]),
        "ranked_evidence": _lr([it["scores"].evidence_features() + it["context"] for it in ranked],
                               [it["gold"] < 2 for it in ranked]),
        "direction": _lr([it["scores"].direction_features() for it in evidence], [it["gold"] == 1 for it in evidence])})


def verdicts(items: list[dict], cal: Calibration, setting: str, gold_direction: bool = False) -> list[tuple[dict, object]]:
    """(item, Verdict) for the setting's candidates: open = ranked top-k with context, oracle = cited, pairwise with the cited map.
    `gold_direction` (a diagnostic): evidence abstracts get P(REFUTES | evidence) from the gold label."""
    out = []
    for it in items:
        c = cal
        if gold_direction and it["gold"] < 2:
            c = Calibration(**{**cal.__dict__, "direction": [0.0, 0.0, 14.0 if it["gold"] == 1 else -14.0]})
        if setting == "open" and it["context"] is not None:
            out.append((it, decide(it["scores"], it["sentences"], c, it["context"])))
        elif setting == "oracle" and it["cited"]:
            out.append((it, decide(it["scores"], it["sentences"], c, cited=True)))
    return out


def metrics(pairs: list[tuple[dict, object]], claims: list[dict]) -> dict:
    preds = {c["id"]: {"id": c["id"], "evidence": {}} for c in claims}
    conf, ok = [], []
    for it, v in pairs:
        conf.append(v.confidence)
        ok.append(LABELS.index(v.label) == it["gold"])
        if v.label in TO_SCIFACT:
            preds[it["claim"]["id"]]["evidence"][it["doc"]] = {"label": TO_SCIFACT[v.label], "sentences": v.sentences}
    ab, se = abstract_level(list(preds.values()), claims), sentence_level(list(preds.values()), claims)
    return {"label_only_f1": round(ab["label_only"]["f1"], 3), "precision": round(ab["label_only"]["precision"], 3),
            "recall": round(ab["label_only"]["recall"], 3), "label_rationale_f1": round(ab["label_rationale"]["f1"], 3),
            "sentence_label_f1": round(se["selection_label"]["f1"], 3), "ece": round(expected_calibration_error(conf, ok), 3)}


def cross_fitted(items: list[dict], claims: list[dict], cal: Calibration, setting: str,
                 gold_direction: bool = False) -> tuple[dict, list]:
    """Metrics of predictions whose maps never saw the claim (5 folds by claim id)."""
    ids = sorted(c["id"] for c in claims)
    random.Random(20).shuffle(ids)
    fold = {cid: i % FOLDS for i, cid in enumerate(ids)}
    out = []
    for f in range(FOLDS):
        fitted = fit_maps([it for it in items if fold[it["claim"]["id"]] != f], cal)
        out += verdicts([it for it in items if fold[it["claim"]["id"]] == f], fitted, setting, gold_direction)
    return metrics(out, claims), out


def best_threshold(items: list[dict], claims: list[dict], base: Calibration, k: int | None,
                   verbose: bool = False) -> tuple[dict, float]:
    """The evidence threshold of GRID with the best cross-fitted open label-only F1 over each claim's top-k
    candidates: (its metrics, the threshold). Leaves the items' context set for k; k = None keeps the context
    the items carry (a check that extends the ranked features)."""
    if k is not None:
        with_context(items, k)
    best = None
    for et in GRID:
        m, _ = cross_fitted(items, claims, Calibration(**{**base.__dict__, "evidence_threshold": et}), "open")
        if verbose:
            print(f"top-{k} evidence_threshold {et}: cross-fitted {m}", flush=True)
        if best is None or m["label_only_f1"] > best[0]["label_only_f1"]:
            best = (m, et)
    return best


def outcomes(pairs: list[tuple[dict, object]], claims: list[dict]) -> dict[str, int]:
    """Where (item, Verdict) pairs go right and wrong: gold evidence abstracts labelled right, labelled wrong or
    abstained on; SUPPORTS/REFUTES verdicts on another abstract of a claim with evidence, or on a claim without."""
    has_evidence = {c["id"]: bool(c["evidence"]) for c in claims}
    out = dict.fromkeys(("right label", "wrong label", "abstained on evidence", "verdict on another abstract",
                         "verdict on a claim without evidence"), 0)
    for it, v in pairs:
        if v.label == "NOT ENOUGH INFO":
            out["abstained on evidence"] += it["gold"] < 2
        elif it["gold"] < 2:
            out["right label" if LABELS.index(v.label) == it["gold"] else "wrong label"] += 1
        else:
            out["verdict on another abstract" if has_evidence[it["claim"]["id"]] else
                "verdict on a claim without evidence"] += 1
    return out


def direction_accuracy(items: list[dict], claims: list[dict], cal: Calibration) -> dict:
    """Diagnostic: cross-fitted SUPPORTS-vs-REFUTES accuracy on the open setting's gold evidence abstracts (against
    always-SUPPORTS), and the open label-only F1 the same pipeline would reach if the direction were always right."""
    _, pairs = cross_fitted(items, claims, cal, "open")
    ev = [(it, v) for it, v in pairs if it["gold"] < 2]
    right = sum((v.probs["REFUTES"] > v.probs["SUPPORTS"]) == (it["gold"] == 1) for it, v in ev)
    return {"evidence_abstracts": len(ev), "direction_accuracy": round(right / len(ev), 3),
            "always_supports": round(sum(it["gold"] == 0 for it, _ in ev) / len(ev), 3),
            "label_only_f1_with_gold_direction": cross_fitted(items, claims, cal, "open", True)[0]["label_only_f1"]}


def select(items: list[dict], claims: list[dict], base: Calibration, top_ks: list[int]) -> tuple[Calibration, dict]:
    """The whole fit on scored items: top-k and evidence threshold (best cross-fitted open label-only F1), rationale
    threshold (best cross-fitted label+rationale F1), cross-fitted and in-sample figures for both settings, the
    direction diagnostic, and the maps refitted on every item. `meta["top_k"]` holds the chosen k."""
    best = None
    for k in top_ks:
        m, et = best_threshold(items, claims, base, k, verbose=True)
        if best is None or m["label_only_f1"] > best[0]["label_only_f1"]:
            best = (m, k, et)
    _, k, et = best
    with_context(items, k)
    best_rt = max(GRID, key=lambda rt: cross_fitted(items, claims, Calibration(**{
        **base.__dict__, "evidence_threshold": et, "rationale_threshold": rt}), "open")[0]["label_rationale_f1"])
    cal = Calibration(**{**base.__dict__, "evidence_threshold": et, "rationale_threshold": best_rt})
    report: dict = {s: {"cross_fitted": cross_fitted(items, claims, cal, s)[0]} for s in ("open", "oracle")}
    report["diagnostics"] = direction_accuracy(items, claims, cal)
    cal = fit_maps(items, cal)
    for s in ("open", "oracle"):
        report[s]["in_sample"] = metrics(verdicts(items, cal, s), claims)
    cal.meta = {"top_k": k}
    return cal, report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--corpus", type=Path, default=Path("../shared/data/scifact/corpus.jsonl"))
    ap.add_argument("--model", type=Path, default=model_dir())
    ap.add_argument("--top-k", type=int, nargs="+", default=[3, 5])
    ap.add_argument("--cache", type=Path, default=None, help="pickle of scored items (reused if present)")
    ap.add_argument("--write", action="store_true", help="write calibration.json into --model")
    args = ap.parse_args()
    claims = [json.loads(line) for line in open(args.data / "val_claims.jsonl", encoding="utf-8")]
    base = Calibration(top_sentences=2)
    verifier = NliVerifier(args.model, threads=2, calibration=base)
    if args.cache and args.cache.exists():
        base.temperature, items = pickle.loads(args.cache.read_bytes())
    else:
        base.temperature = sentence_temperature(claims, args.corpus, verifier)
        items = collect(claims, args.corpus, verifier)
        if args.cache:
            args.cache.write_bytes(pickle.dumps((base.temperature, items)))
    cal, report = select(items, claims, base, args.top_k)
    cal.meta = {"fitted_on": f"SciFact train, validation split ({len(claims)} claims, seed 20)", "top_k": cal.meta["top_k"],
                "retrieval": f"hybrid top-{cal.meta['top_k']}", **report}
    print(json.dumps(report, indent=1))
    if args.write:
        (args.model / "calibration.json").write_text(cal.to_json() + "\n")
        print(f"wrote {args.model / 'calibration.json'}")


if __name__ == "__main__":
    main()
