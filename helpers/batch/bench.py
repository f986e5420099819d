"""`workbench eval batch`: the same questions with 1 worker, then with 2 (or any counts), in one run; prints
wall time per count, the ratio to the first, and the per-question median, with the machine's load average
before and after each (on a shared machine the ratio means little without it)."""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from .cluster import run_batch


@dataclass
class BenchRow:
    workers: int
    wall_s: float
    median_s: float
    done: int
    failed: int
    threads: str
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


def _load() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return round(one, 2), round(five, 2), round(fifteen, 2)


def bench_batch(params_files: list[str | Path], worker_counts: list[int], out_root: Path,
                dashboard: str = "127.0.0.1:0") -> list[BenchRow]:
    """Run the whole batch once per worker count (`--force`: nothing skipped), each into its own output root."""
    rows = []
    for n in worker_counts:
        before = _load()
        t0 = time.perf_counter()
        lines: list[str] = []
        result = run_batch(params_files, workers=n, force=True, name=f"bench-w{n}", out_root=out_root / f"w{n}",
                           dashboard=dashboard, progress=False, echo=lines.append)
        wall = time.perf_counter() - t0
        times = [float(r["run_s"]) for r in result.rows if r["status"] == "done" and r["run_s"] != ""]
        threads = sorted({str(r["ort_threads"]) for r in result.rows if r["ort_threads"] != ""})
        rows.append(BenchRow(n, round(wall, 1), round(statistics.median(times), 1) if times else float("nan"),
                             result.count("done"), result.count("failed"), "/".join(threads), before, _load()))
    return rows


def table(rows: list[BenchRow], n_questions: int, cores: int) -> str:
    """The benchmark as a Markdown table (ratio = first row's wall time / this row's)."""
    base = rows[0].wall_s if rows else float("nan")
    out = [f"{n_questions} questions, {cores} cores; load average (1/5/15 min) before -> after each run",
           "", "| workers | ONNX threads each | wall time (s) | speed-up vs first | per-question median (s) | done | "
           "failed | load before | load after |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r.workers} | {r.threads} | {r.wall_s:.1f} | {base / r.wall_s:.2f}x | {r.median_s:.1f} | "
                   f"{r.done} | {r.failed} | {'/'.join(map(str, r.load_before))} | {'/'.join(map(str, r.load_after))} |")
    return "\n".join(out)
