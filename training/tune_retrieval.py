"""Sweep retrieval settings on the TUNING part of the BEIR-SciFact train queries (validation part reported,
never used for choosing). Usage: python training/tune_retrieval.py [bm25|fusion|fusion2|ondemand]"""

from __future__ import annotations

import sys

from helpers import config
from helpers.evaluation.retrieval import beir_store, evaluate, is_validation, load_beir
from helpers.retrieval import search as S

BEIR = config.data_root() / "beir-scifact"
TUNE = config.cache_dir() / "tune"


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
                   lambda t, k, tw=tw: S.bm25(store, t, k=k, title_weight=tw)), beir.qrels)
        from helpers.retrieval.search import prf_terms
        for nd, nt in ((3, 5), (5, 10), (10, 10)):
            report(f"bm25+prf docs={nd} terms={nt}", ranked(store, beir.queries,
                   lambda t, k, nd=nd, nt=nt: S.bm25(store, " ".join([t, *prf_terms(store, t, nd, nt)]), k=k)), beir.qrels)

    if what == "fusion":
        import itertools
        import pickle

        from helpers.retrieval.embed import normalise  # noqa: F401

        index = S.dense_index(store)
        prefix = f"{store.name}:"
        qids = list(beir.queries)
        qv = index.embedder.encode([beir.queries[q] for q in qids], batch_size=64)
        dense = {q: index.search_vector(qv[i], k=200) for i, q in enumerate(qids)}
        lex = {tw: {q: S.bm25(store, beir.queries[q], k=200, title_weight=tw) for q in qids} for tw in (1.0, 3.0)}
        TUNE.mkdir(exist_ok=True)
        pickle.dump({"dense": dense, "lex": lex, "qv": qv, "qids": qids}, open(TUNE / "rankings.pkl", "wb"))

        def as_run(r):
            return {q: [(h.doc_id.removeprefix(prefix), h.score) for h in hs[:100]] for q, hs in r.items()}

        report("dense", as_run(dense), beir.qrels)
        for tw in (1.0, 3.0):
            report(f"bm25 tw={tw}", as_run(lex[tw]), beir.qrels)
            for k, w in itertools.product((10, 30, 60), (0.7, 1.0, 1.5)):
                report(f"rrf tw={tw} k={k} w_dense={w}",
                       as_run({q: S.rrf([lex[tw][q], dense[q]], k=k, weights=[1, w]) for q in qids}), beir.qrels)
            for a in (0.3, 0.4, 0.5, 0.6, 0.7):
                report(f"minmax tw={tw} a_dense={a}",
                       as_run({q: S.minmax_fusion([lex[tw][q], dense[q]], [1 - a, a]) for q in qids}), beir.qrels)

    if what == "fusion2":
        import pickle

        from helpers.retrieval.embed import normalise

        d = pickle.load(open(TUNE / "rankings.pkl", "rb"))
        index = S.dense_index(store)
        row = {doc: i for i, doc in enumerate(index.doc_ids)}
        prefix = f"{store.name}:"
        qids, qv, dense, lex = d["qids"], d["qv"], d["dense"], d["lex"]

        def as_run(r):
            return {q: [(h.doc_id.removeprefix(prefix), h.score) for h in hs[:100]] for q, hs in r.items()}

        for tw in (1.0, 3.0):
            base = {q: S.rrf([lex[tw][q], dense[q]], k=60) for q in qids}
            for m, beta in ((3, 0.5), (3, 1.0), (5, 0.5), (10, 0.5)):
                roc = {}
                for i, q in enumerate(qids):
                    top = [row[h.doc_id] for h in base[q][:m]]
                    v = normalise((qv[i] + beta * index.vectors[top].mean(0))[None])[0]
                    roc[q] = index.search_vector(v, k=200)
                report(f"dense-rocchio tw={tw} m={m} b={beta}", as_run(roc), beir.qrels)
                report(f"rrf(bm25, rocchio) tw={tw} m={m} b={beta}",
                       as_run({q: S.rrf([lex[tw][q], roc[q]], k=60) for q in qids}), beir.qrels)
                report(f"rrf(bm25, dense, rocchio) tw={tw} m={m} b={beta}",
                       as_run({q: S.rrf([lex[tw][q], dense[q], roc[q]], k=60) for q in qids}), beir.qrels)

    if what == "ondemand":
        # the hybrid without a full index: the dense list is each query's BM25 candidates ranked by cosine (the
        # full index's vectors, so only the scope differs), of which the best `keep` are fused
        index = S.dense_index(store)
        row = {doc: i for i, doc in enumerate(index.doc_ids)}
        prefix = f"{store.name}:"
        qids = list(beir.queries)
        qv = index.embedder.encode([beir.queries[q] for q in qids])
        lex = {q: S.bm25(store, beir.queries[q], k=1000, title_weight=S.HYBRID_TITLE_WEIGHT) for q in qids}
        a = S.DENSE_ALPHA

        def as_run(r):
            return {q: [(h.doc_id.removeprefix(prefix), h.score) for h in hs[:100]] for q, hs in r.items()}

        def fused(depth, keep):
            out = {}
            for i, q in enumerate(qids):
                cands = lex[q][:depth]
                cos = sorted((S.Hit(h.doc_id, float(index.vectors[row[h.doc_id]] @ qv[i])) for h in cands),
                             key=lambda h: -h.score)
                out[q] = S.minmax_fusion([lex[q][:S.DEPTH], cos[:keep]], [1 - a, a])
            return out

        report("full hybrid", as_run({q: S.minmax_fusion([lex[q][:S.DEPTH], index.search_vector(qv[i], S.DEPTH)],
                                                           [1 - a, a]) for i, q in enumerate(qids)}), beir.qrels)
        for keep in (25, 50, 60, 75, 80, 90, 100, 150, 200):
            report(f"on demand: BM25 top {S.DEPTH}, best {keep} by cosine", as_run(fused(S.DEPTH, keep)), beir.qrels)
        for depth in (300, 500, 1000):
            report(f"on demand: BM25 top {depth}, best 200 by cosine", as_run(fused(depth, 200)), beir.qrels)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bm25")
