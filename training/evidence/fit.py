"""Fit the question-focused evidence ranker (models/evidence/ranker.json) on Check-COVID train.

    python -m training.evidence.fit --out models/evidence

Check-COVID's train claims each come with the abstract they were checked against and the indices of the
sentences that are their evidence; the shipped verifier never saw this set, so its relevance feature is not
inflated here. Every sentence of the abstract is scored against the claim with the features of
`helpers.verification.evidence` (bi-encoder cosine, the verifier's relevance logit, facet share, finding cues,
a number); a logistic regression separates evidence sentences from the rest. Measured with 5-fold
cross-validation grouped by news item (the claims built from one news sentence stay together): precision at 1
(the top sentence is evidence), mean reciprocal rank, and the same for each feature alone.

The threshold from which a sentence may address a sub-question is the base rate of evidence sentences: a sentence
more likely than a random one of its abstract. (The F1-optimal cut, printed too, is not used: it is fitted to
claim–sentence pairs, whose similarities run higher than those of a question and the sentence answering it.)
Whether a sentence addresses a sub-question is then decided mostly by the facets it covers (evidence.py)."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve, roc_auc_score

from helpers import config
from helpers.question import SubQuestion, facets
from helpers.retrieval.embed import get_embedder
from helpers.verification.evidence import FEATURES, relevance_logits, sentence_features
from helpers.verification.verifier import load_verifier
from training.stance.data import fold_of


def rows(folder: Path) -> list[dict]:
    corpus = {}
    for line in open(folder / "corpus.json", encoding="utf-8"):
        d = json.loads(line)
        corpus[d["cord_id"]] = d["abstract"]
    claims = [json.loads(x) for x in open(folder / "covidCheck_train_composed+extracted.json", encoding="utf-8")]
    claims = [c for c in claims if c["label"] != "NOTENOUGHINFO" and c.get("evidence_set") and c["cord_id"] in corpus]
    emb, verifier = get_embedder(128), load_verifier()
    out, pairs = [], []
    for c in claims:
        sents = corpus[c["cord_id"]]
        pos = {e["sent_index"] for e in c["evidence_set"]}
        sq = SubQuestion("Q1", c["claim"], "yes-no", facets=facets(c["claim"])[0])
        cos = emb.encode(sents) @ emb.encode([c["claim"]])[0]
        for i, f in enumerate(sentence_features(sq, sents, cos, None)):
            out.append({"group": c["id"].rsplit("_", 1)[0], "claim": c["id"], "y": int(i in pos), **f})
            pairs.append((c["claim"], sents[i]))
    for r, x in zip(out, relevance_logits(verifier, pairs), strict=True):
        r["xrel"] = float(x)
    return out


def p_at_1_mrr(scores: np.ndarray, data: list[dict]) -> tuple[float, float]:
    by = defaultdict(list)
    for s, r in zip(scores, data, strict=True):
        by[r["claim"]].append((s, r["y"]))
    p1, rr = [], []
    for items in by.values():
        ranked = sorted(items, key=lambda t: -t[0])
        p1.append(ranked[0][1])
        rr.append(next((1 / (k + 1) for k, (_, y) in enumerate(ranked) if y), 0.0))
    return float(np.mean(p1)), float(np.mean(rr))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cache", type=Path, help="features file: written once, read on later runs")
    args = ap.parse_args()
    if args.cache and args.cache.exists():
        data = json.loads(args.cache.read_text())
    else:
        data = rows(config.data_root() / "check-covid")
        if args.cache:
            args.cache.write_text(json.dumps(data))
    X = np.array([[r[f] for f in FEATURES] for r in data])
    y = np.array([r["y"] for r in data])
    folds = np.array([fold_of(r["group"]) for r in data])
    print(f"Check-COVID train: {len({r['claim'] for r in data})} claims, {len(data)} sentences, "
          f"{y.mean():.1%} evidence; 5 folds grouped by news item")
    oof = np.zeros(len(y))
    for k in range(5):
        tr, te = folds != k, folds == k
        oof[te] = LogisticRegression(C=1.0, max_iter=2000).fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]
    print(f"{'ranker':<14} P@1 {p_at_1_mrr(oof, data)[0]:.3f}  MRR {p_at_1_mrr(oof, data)[1]:.3f}  AUC {roc_auc_score(y, oof):.3f}")
    for j, f in enumerate(FEATURES):
        p1, mrr = p_at_1_mrr(X[:, j], data)
        print(f"{f + ' alone':<14} P@1 {p1:.3f}  MRR {mrr:.3f}  AUC {roc_auc_score(y, X[:, j]):.3f}")
    prec, rec, thr = precision_recall_curve(y, oof)
    f1 = 2 * prec * rec / np.clip(prec + rec, 1e-9, None)
    best = int(np.argmax(f1[:-1]))
    threshold = float(thr[best])
    print(f"F1-optimal cut {threshold:.3f}: precision {prec[best]:.3f}, recall {rec[best]:.3f}, F1 {f1[best]:.3f} "
          f"(out of fold; not used); threshold = base rate {y.mean():.3f}")
    threshold = float(y.mean())
    model = LogisticRegression(C=1.0, max_iter=2000).fit(X, y)
    p1, mrr = p_at_1_mrr(oof, data)
    out = {"weights": dict(zip(FEATURES, map(float, model.coef_[0]), strict=True)), "intercept": float(model.intercept_[0]),
           "threshold": round(threshold, 4),
           "meta": {"fitted_on": "Check-COVID train: claims against their abstracts, evidence sentences positive",
                    "out_of_fold": {"p_at_1": round(p1, 4), "mrr": round(mrr, 4), "auc": round(float(roc_auc_score(y, oof)), 4),
                                    "f1_optimal_cut": round(float(thr[best]), 4)},
                    "threshold": "the base rate of evidence sentences",
                    "command": "python -m training.evidence.fit --out models/evidence"}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ranker.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out / 'ranker.json'}")


if __name__ == "__main__":
    main()
