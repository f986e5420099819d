"""Interactive-search latency and the seed questions on the arXiv corpus.

Usage: WORKBENCH_CACHE_DIR=... python training/bench_arxiv.py [n_queries]
Queries: titles of n random papers (seed 0) used as free-text queries; reports median / p95 latency per
method (first query excluded: it loads the index), then the top 10 titles for each seed question through
the pipeline's LocalSource (planned facets + PRF + dense question query, pooled).
"""

from __future__ import annotations

import random
import sys
import time

import numpy as np

from helpers.retrieval.query import build_query_plan
from helpers.retrieval.search import dense_index, search
from helpers.retrieval.sources.local import LocalSource
from helpers.retrieval.store import open_corpus

SEEDS = [
    "What is the trade-off between inference throughput in tokens per second and functional correctness when "
    "applying multi-objective alignment frameworks to large language models on coding tasks?",
    "Does integrating sparse expert routing in alignment-focused multimodal models improve inference throughput "
    "without degrading performance on standard reasoning benchmarks?",
]


def main(n: int = 50) -> None:
    store = open_corpus("arxiv-cs")
    t0 = time.perf_counter()
    index = dense_index(store)
    print(f"dense index load: {time.perf_counter() - t0:.1f} s, {None if index is None else index.vectors.shape}")
    papers = store.get(random.Random(0).sample(store.doc_ids(), n))
    queries = [p.title for p in papers] + [q for s in SEEDS for q in build_query_plan(s).queries]
    for method in ("bm25", "dense", "hybrid"):
        search(store, queries[0], k=100, method=method)  # warm-up
        lat = []
        for q in queries:
            t = time.perf_counter()
            search(store, q, k=100, method=method)
            lat.append(time.perf_counter() - t)
        lat_ms = np.array(lat) * 1000
        print(f"{method:8s} {len(lat)} queries: median {np.median(lat_ms):.0f} ms, p95 {np.percentile(lat_ms, 95):.0f} ms")
    src = LocalSource("arxiv-cs")
    for s in SEEDS:
        plan = build_query_plan(s)
        t = time.perf_counter()
        res = src.search(s, plan.queries, limit=50)
        print(f"\nQ: {s}\n  plan: {plan.to_dict()}\n  ({time.perf_counter() - t:.1f} s, {len(res.queries)} queries)")
        for i, p in enumerate(res.records[:10], 1):
            print(f"  {i:2d}. [{p.id}] {p.title}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
