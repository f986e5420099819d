"""The seed questions' retrieval on demand against the full index, in the same run.

Usage: WORKBENCH_CACHE_DIR=<cache with the complete arXiv index> python training/bench_ondemand_seeds.py [PARAMS...]

For each question, the retrieval stage (queries, pooling, screening) runs twice in one process: with the full
dense index (what a warm run does) and with dense scores over the BM25 candidates only (what the first run on a
cold cache does; `WORKBENCH_DENSE_SCOPE=candidates`, its vectors read from the same cache, so nothing is
embedded and only the scope differs). Prints how many of the records and of the included papers are the same,
and the included papers each run has alone.
"""

from __future__ import annotations

import os
import sys
import time

from helpers.params import load_params
from helpers.retrieval import stage

SEEDS = ["params/coding-throughput-tradeoff.yaml", "params/moe-routing-multimodal.yaml"]


def run(params, scope: str):
    os.environ["WORKBENCH_DENSE_SCOPE"] = scope
    t0 = time.perf_counter()
    res = stage.run(params)
    return res, time.perf_counter() - t0


def main(files: list[str]) -> None:
    print(f"load average {os.getloadavg()[0]:.2f}")
    rows = []
    for f in files:
        params = load_params(f)
        full, t_full = run(params, "auto")
        cand, t_cand = run(params, "candidates")
        assert full.sources[0].dense["scope"] == "full index"
        assert cand.sources[0].dense["scope"] == "BM25 candidates"
        rec_f, rec_c = {p.id for p in full.papers}, {p.id for p in cand.papers}
        inc_f, inc_c = {p.id for p in full.included}, {p.id for p in cand.included}
        rows.append((params.slug, len(rec_f), len(rec_f & rec_c), len(inc_f), len(inc_c), len(inc_f & inc_c),
                     cand.sources[0].dense["scored"], t_full, t_cand))
        titles = {p.id: p.title for p in full.included + cand.included}
        for label, ids in (("full index only", inc_f - inc_c), ("on demand only", inc_c - inc_f)):
            for i in sorted(ids):
                print(f"  {params.slug}: {label}: {titles[i]}")
    print("\n| question | records (full) | same records on demand | included (full / on demand) | same included "
          "| documents scored on demand | retrieval s (full / on demand) |")
    print("|---|---|---|---|---|---|---|")
    for slug, nf, same_r, inf, inc, same_i, scored, tf, tc in rows:
        print(f"| {slug} | {nf} | {same_r} ({same_r / nf:.0%}) | {inf} / {inc} | {same_i} | {scored:,} | "
              f"{tf:.1f} / {tc:.1f} |")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:] or SEEDS)
