"""`workbench batch`: run many questions as Dask tasks, one task per question, on a LocalCluster of worker
processes on this machine or on an existing cluster (`--scheduler`).

The client validates every params file first (nothing runs if one is invalid), skips questions whose outputs are
current (`plan.staleness`, unless `force`), submits the rest, and rewrites the batch index each time a question
finishes, so an interrupted batch still leaves an index of what it did and the next run finishes the rest.

ONNX threads: each worker's kernels get `WORKBENCH_ORT_THREADS` = the machine's cores divided by the tasks its
workers run at once (so N workers do not each start one thread per core), or the number given as `ort_threads`.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import config
from ..errors import WorkbenchError
from ..params import slugify
from .index import write_index
from .plan import BatchError, Question, default_name, load_questions, staleness
from .task import cpu_count, run_question

DEFAULT_DASHBOARD = "127.0.0.1:8787"


@dataclass
class BatchResult:
    name: str
    index: Path
    rows: list[dict] = field(default_factory=list)
    dashboard: str = ""
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r["status"] == status)


def thread_plan(workers: dict[str, dict], cores: dict[str, int]) -> dict[str, int]:
    """ONNX threads per worker address: a host's cores shared out over the tasks its workers run at once
    (`workers`: address -> scheduler info with `host` and `nthreads`; `cores`: address -> that host's cores)."""
    per_host: dict[str, int] = {}
    for info in workers.values():
        per_host[info["host"]] = per_host.get(info["host"], 0) + int(info.get("nthreads", 1))
    return {addr: max(1, cores.get(addr, 1) // max(1, per_host[info["host"]])) for addr, info in workers.items()}


def _echo(line: str) -> None:
    print(line, flush=True)


def _connect(workers: int, scheduler: str | None, dashboard: str):
    """(client, cluster or None): a client of the given scheduler, or of a new LocalCluster on 127.0.0.1."""
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler, set_as_default=False), None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=dashboard, silence_logs=logging.ERROR)
    return Client(cluster, set_as_default=False), cluster


def run_batch(params_files: list[str | Path], *, workers: int | None = None, scheduler: str | None = None,
              name: str | None = None, force: bool = False, ort_threads: int | None = None,
              out_root: Path | None = None, dashboard: str = DEFAULT_DASHBOARD, progress: bool = True,
              echo: Callable[[str], None] = _echo) -> BatchResult:
    """Run every question of the batch (see the module docstring); raises `BatchError` before anything runs
    if a params file is invalid."""
    questions = load_questions(params_files)
    out_root = Path(out_root or config.outputs_dir()).resolve()
    name = name or default_name(questions)
    if slugify(name) != name:
        raise BatchError([f"--name: '{name}': use lower-case letters, digits and hyphens"])
    clash = [q for q in questions if q.slug == f"batch-{name}"]
    if clash:
        raise BatchError([f"{clash[0].path}: slug: 'batch-{name}' is the batch index folder; rename the batch"])
    index_dir = out_root / f"batch-{name}"
    rows = {q.slug: {"status": "queued"} for q in questions}
    todo: list[Question] = []
    corpora: dict[str, dict] = {}
    for q in questions:
        why = None if force else staleness(q, out_root, corpora)
        if force or why:
            todo.append(q)
        else:
            rows[q.slug] = {"status": "current"}
            echo(f"{q.slug}: current, skipped (outputs in {out_root / q.slug})")
    result = BatchResult(name, index_dir / "index.html")
    meta = {"name": name, "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}

    def publish() -> None:
        result.rows = write_index(questions, rows, out_root, index_dir, meta)

    if not todo:
        publish()
        echo(f"batch {name}: nothing to run; index {result.index}")
        return result
    n_workers = workers or max(1, min(len(todo), cpu_count()))
    client, cluster = _connect(n_workers, scheduler, dashboard)
    futures = []
    try:
        result.dashboard = meta["dashboard"] = client.dashboard_link
        info = _workers(client)
        plan = ort_threads or thread_plan(info, client.run(cpu_count))
        meta["workers"] = f"{len(info)} (scheduler {client.scheduler.address})"
        threads = sorted(set(plan.values())) if isinstance(plan, dict) else [plan]
        echo(f"batch {name}: {len(todo)} of {len(questions)} questions on {len(info)} worker{'s' * (len(info) != 1)} "
             f"({'/'.join(map(str, threads))} ONNX threads each); dashboard {client.dashboard_link}")
        publish()
        futures = [client.submit(run_question, str(q.path), q.slug, str(out_root), plan, pure=False,
                                 key=f"workbench-{q.slug}-{time.time_ns()}") for q in todo]
        by_key = {f.key: q for f, q in zip(futures, todo, strict=True)}
        for q in todo:
            rows[q.slug] = {"status": "running"}
        _collect(client, futures, by_key, rows, publish, echo, progress)
    except KeyboardInterrupt:
        result.interrupted = True
        for slug, row in rows.items():
            if row["status"] in {"queued", "running"}:
                rows[slug] = {"status": "not run", "error": "batch interrupted"}
        client.cancel(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
        publish()
    done, failed = result.count("done"), result.count("failed")
    echo(f"batch {name}: {done} done, {result.count('current')} current, {failed} failed"
         + (f", {result.count('not run')} not run (interrupted)" if result.interrupted else "")
         + f"; index {result.index}")
    return result


def _collect(client, futures, by_key: dict, rows: dict, publish: Callable[[], None], echo: Callable[[str], None],
             progress: bool) -> None:
    """Wait for the questions as they finish: one line each, a progress bar, the index rewritten each time."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    bar = tqdm(total=len(futures), desc="questions", unit="q", file=sys.stderr, disable=not progress,
               dynamic_ncols=True, leave=False)
    try:
        for fut in as_completed(futures, loop=client.loop):
            q = by_key[fut.key]
            try:
                row = fut.result()
            except Exception as exc:  # the worker died (killed, out of memory): Dask gave up on the task
                row = {"slug": q.slug, "status": "failed", "error": f"{type(exc).__name__}: {exc}", "seconds": None}
            rows[q.slug] = row
            line = (f"{q.slug}: done in {row['seconds']:.1f} s" if row["status"] == "done"
                    else f"{q.slug}: FAILED: {row['error']}")
            with bar.external_write_mode():
                echo(line)
            bar.update(1)
            publish()
    finally:
        bar.close()


def _workers(client) -> dict[str, dict]:
    """The scheduler's workers (a new LocalCluster's are all up already; an existing cluster gets 60 s to show
    at least one)."""
    info = client.scheduler_info(n_workers=-1)["workers"]
    if not info:
        try:
            client.wait_for_workers(1, timeout=60)
        except TimeoutError:
            raise WorkbenchError(f"scheduler {client.scheduler.address} has no workers (waited 60 s)") from None
        info = client.scheduler_info(n_workers=-1)["workers"]
    return info
