"""Sweep retrieval settings on the TUNING part of the BEIR-SciFact train queries (validation part reported,
never used for choosing). Usage: python training/tune_retrieval.py [bm25|fusion]"""

from __future__ import annotations

import sys
from pathlib import Path

from helpers import search as S
from helpers.eval_retrieval import beir_store, evaluate, is_validation, load_beir

BEIR = Path("/work/shared/data/beir-scifact")


def ranked(store, queries, fn, k=200):
    prefix = f"{store.name}:"
    return {q: [(h.doc_id.removeprefix(prefix), h.score) for h in fn(t, k)] for q, t in queries.items()}


def report(label, run, qrels):
    val = {q for q in qrels if is_validation(q)}
    tune = set(qrels) - val
    t, v = evaluate(run, qrels, tune), evaluate(run, qrels, val)
    print(f"{label:40s} tune nDCG@10 {t['nDCG@10']:.4f} R@100 {t['R@100']:.4f} | "
          f"val nDCG@10 {v['nDCG@10']:.4f} R@100 {v['R@100']:.4f}", flush=True)


def main(what: str) -> None:
    beir = load_beir(BEIR)
    store, _ = beir_store(beir)
    if what == "bm25":
        for tw in (0.5, 1.0, 2.0, 3.0):
            report(f"bm25 title_weight={tw}", ranked(store, beir.queries,
                   lambda t, k: S.bm25(store, t, k=k, title_weight=tw)), beir.qrels)
        from helpers.query import prf_terms
        for nd, nt in ((3, 5), (5, 10), (10, 10)):
            report(f"bm25+prf docs={nd} terms={nt}", ranked(store, beir.queries,
                   lambda t, k: S.bm25(store, " ".join([t, *prf_terms(store, t, nd, nt)]), k=k)), beir.qrels)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bm25")
