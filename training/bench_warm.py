"""A warm question, this checkout against a baseline checkout, in the same run.

Usage: WORKBENCH_CACHE_DIR=<warm cache> python training/bench_warm.py --baseline /path/to/other/checkout
                                                                      [--rounds 2] [PARAMS...]

Both checkouts run `workbench run` (each with its own `.venv`) on the same warm cache (the arXiv store and its
complete embedding index), alternating baseline / this one per question and round, so a change in the shared
machine's load hits both alike. Outputs and review decisions go to temporary folders. Prints each run's
notebook timings (from its manifest.json), the load average, and the median per question and checkout; then
checks that both checkouts included the same papers (a warm run's retrieval is unchanged).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
SEEDS = ["params/coding-throughput-tradeoff.yaml", "params/moe-routing-multimodal.yaml"]


def run(repo: Path, params: Path, out: Path, reviews: Path) -> dict:
    env = {**os.environ, "WORKBENCH_OUTPUTS_DIR": str(out), "WORKBENCH_REVIEWS_DIR": str(reviews)}
    subprocess.run([str(repo / ".venv" / "bin" / "workbench"), "run", str(params)], check=True, env=env,
                   cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    slug = next(p for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))
    manifest = json.loads((slug / "manifest.json").read_text())
    included = sorted(json.loads(x)["id"] for x in (slug / "records.jsonl").read_text().splitlines()
                      if x.strip() and json.loads(x)["decision"] == "included")
    return {"timings": manifest["timings_s"], "included": included}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", type=Path, required=True, help="another checkout with its own .venv")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("params", nargs="*", default=SEEDS)
    args = ap.parse_args()
    repos = {"baseline": args.baseline.resolve(), "this": HERE}
    work = Path(tempfile.mkdtemp(prefix="bench-warm-"))
    totals: dict[tuple[str, str], list[float]] = {}
    retrieval: dict[tuple[str, str], list[float]] = {}
    included: dict[tuple[str, str], list[str]] = {}
    for rnd in range(args.rounds):
        for params in args.params:
            for name, repo in repos.items():
                out = work / f"{name}-{rnd}-{Path(params).stem}"
                res = run(repo, (HERE / params).resolve(), out, work / f"reviews-{name}")
                t = res["timings"]
                totals.setdefault((params, name), []).append(t["total"])
                retrieval.setdefault((params, name), []).append(t["01_retrieval"])
                included[(params, name)] = res["included"]
                load = "/".join(f"{x:.1f}" for x in os.getloadavg())
                print(f"round {rnd + 1} {Path(params).stem:28s} {name:8s} " + " ".join(
                    f"{k} {v:.1f}" for k, v in t.items()) + f"  (load {load})", flush=True)
    print("\nmedian seconds over the rounds (01_retrieval is the notebook the changes touch)")
    print("| question | baseline total | this total | baseline 01_retrieval | this 01_retrieval | same included papers |")
    print("|---|---|---|---|---|---|")
    for params in args.params:
        med = {k: statistics.median(v) for k, v in ((n, totals[(params, n)]) for n in repos)}
        ret = {k: statistics.median(v) for k, v in ((n, retrieval[(params, n)]) for n in repos)}
        same = included[(params, "baseline")] == included[(params, "this")]
        print(f"| {Path(params).stem} | {med['baseline']:.1f} | {med['this']:.1f} | {ret['baseline']:.1f} | "
              f"{ret['this']:.1f} | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
