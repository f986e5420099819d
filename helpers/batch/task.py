"""What a Dask worker runs for one question: `runner.run` (the same staging folder and atomic swap as
`workbench run`), with the worker's ONNX thread count set for the notebook kernels it starts, returning a result
row instead of raising when the question itself fails (so one failure never stops the batch)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..errors import RunError, WorkbenchError

ORT_ENV = "WORKBENCH_ORT_THREADS"  # read by the embedder (retrieval/embed.py) and the verifier (crossencoder.py)


def cpu_count() -> int:
    """Cores this process may use (cgroup and affinity limits counted, as Dask counts them)."""
    from dask.system import cpu_count as dask_cpu_count

    return max(1, int(dask_cpu_count()))


def worker_address() -> str:
    """This Dask worker's address, or "local" outside a worker."""
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "local"


def threads_for(plan: dict[str, int] | int | None) -> int:
    """ONNX intra-op threads for this worker's kernels: the batch's plan (one number, or one per worker
    address), else the worker's own `WORKBENCH_ORT_THREADS`, else all its cores."""
    if isinstance(plan, int) and plan > 0:
        return plan
    if isinstance(plan, dict) and plan.get(worker_address()):
        return int(plan[worker_address()])
    try:
        return max(1, int(os.environ.get(ORT_ENV, "")))
    except ValueError:
        return cpu_count()


def run_question(params_file: str, slug: str, out_root: str, ort_threads: dict[str, int] | int | None = None) -> dict:
    """Run one question into `<out_root>/<slug>/`; the result row says done or failed (notebook, cell, error)."""
    from ..runner import run

    started = time.time()
    threads = threads_for(ort_threads)
    os.environ[ORT_ENV] = str(threads)  # the kernels papermill starts from this process inherit it
    row: dict = {"slug": slug, "params_file": params_file, "worker": worker_address(), "ort_threads": threads,
                 "status": "done", "notebook": "", "cell": None, "error": ""}
    try:
        result = run(params_file, out_root=Path(out_root))
        row["timings"] = result.timings
    except RunError as exc:
        row.update(status="failed", notebook=exc.notebook, cell=exc.cell, error=str(exc))
    except WorkbenchError as exc:
        row.update(status="failed", error=str(exc))
    except Exception as exc:  # a bug or an environment fault: still one row, the batch goes on
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    row["seconds"] = round(time.time() - started, 2)
    return row
