"""`workbench run`: validate params, execute the four notebooks with papermill, render HTML, swap outputs in.

Outputs are built in a staging folder beside `outputs/<slug>/` and swapped in only when every notebook
succeeded, so a failed run leaves the last good outputs in place and says which notebook and cell failed. One
run per output folder at a time (a file lock `.<slug>.lock` beside it): a second run of the same question waits,
and the staging folder a killed run left behind is removed by the next one.

Kernels talk to papermill over CurveZMQ-encrypted sockets where jupyter_client and the kernel support it, so the
kernel has nothing to warn about ("Kernel is running over TCP without encryption"), and are shut down without a
SIGINT (see `kernel_manager_class`).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from . import config
from .atomic import replace_dir, write_text
from .errors import RunError
from .locks import build_lock
from .manifest import code_version, corpus_fingerprints, llm_usage, package_versions, reviews_fingerprint
from .params import Params, load_params

log = logging.getLogger(__name__)

NOTEBOOKS = ("01_retrieval", "02_claims", "03_scoring", "04_report")


@dataclass
class RunResult:
    slug: str
    out_dir: Path
    timings: dict[str, float] = field(default_factory=dict)


def page_title(nb, notebook: Path, question: str | None = None) -> str:
    """A rendered notebook's page title: its stage (the notebook's first heading, e.g. "1 · Retrieval") and the
    question, so that a person with the four pages open can tell them apart."""
    heading = next((line[2:].strip() for cell in nb.cells if cell.cell_type == "markdown"
                    for line in cell.source.splitlines() if line.startswith("# ")), Path(notebook).stem)
    return f"{heading}: {question}" if question else heading


def render_html(notebook: Path, html_path: Path, question: str | None = None) -> None:
    """Executed notebook -> HTML titled by `page_title`; cells tagged `hide-input` show only their output,
    `remove-cell` vanish."""
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = ("hide-input", "parameters", "injected-parameters")
    c.TagRemovePreprocessor.remove_cell_tags = ("remove-cell",)
    exporter = HTMLExporter(config=c, template_name="lab")
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    nb = nbformat.read(notebook, as_version=4)
    # nbconvert titles the page with resources' name ("Notebook" by default) and escapes it
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": page_title(nb, notebook, question)}})
    write_text(html_path, body)


@lru_cache(maxsize=1)
def kernel_manager_class() -> type:
    """The kernel manager papermill starts each notebook's kernel with: jupyter_client's own, with two changes
    that keep the kernel from printing alarms that are not errors.

    * It asks for CurveZMQ transport encryption (`transport_encryption="auto"`: keys are provisioned when the
      kernelspec declares support, as ipykernel's does). Without it, ipykernel >= 7.3 warns on every start that
      its TCP sockets are unencrypted. (Older jupyter_client or a pyzmq without CURVE: not asked; older kernels do
      not warn.)
    * Shutting down, it sends no SIGINT first. jupyter_client interrupts a kernel before asking it to shut down;
      papermill shuts a kernel down only after its notebook has finished, when nothing runs, and on a loaded
      machine the signal can land while the kernel is still handling a message, which it then logs as
      "KeyboardInterrupt caught in kernel." An interrupt while the kernel is not shutting down (a cell timeout)
      is sent as before."""
    import zmq
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    encrypt = "transport_encryption" in AsyncKernelManager.class_trait_names() and zmq.has("curve")

    class WorkbenchKernelManager(AsyncKernelManager):
        if encrypt:
            @default("transport_encryption")
            def _default_transport_encryption(self) -> str:
                return "auto"

        async def _async_interrupt_kernel(self) -> None:
            if not getattr(self, "shutting_down", False):
                await super()._async_interrupt_kernel()

    return WorkbenchKernelManager


KERNEL_START_ATTEMPTS = 3
# papermill's and jupyter_client's words for a kernel that never came up (it died binding a port, or never answered)
KERNEL_NEVER_STARTED = ("Kernel didn't respond", "Kernel died before replying to kernel_info")


def execute(execute_notebook: Callable, *args, attempts: int = KERNEL_START_ATTEMPTS, **kwargs):
    """papermill's `execute_notebook`, tried again when the kernel never came up. jupyter_client picks a
    kernel's free ports and lets them go before the kernel binds them, so when several processes start kernels at
    once (a batch's workers), one may find a port taken and die before answering ("Kernel didn't respond in 60
    seconds", "Kernel died before replying to kernel_info"). No cell has run then, so starting afresh is safe; an error in a cell is never retried."""
    for attempt in range(1, attempts + 1):
        try:
            return execute_notebook(*args, **kwargs)
        except RuntimeError as exc:
            if not any(m in str(exc) for m in KERNEL_NEVER_STARTED) or attempt == attempts:
                raise
            log.warning("the kernel did not start (%s); starting another (attempt %d of %d)", exc, attempt + 1,
                        attempts)


def _execution_error(exc: Exception, notebook: str) -> RunError:
    cell = getattr(exc, "exec_count", None)
    ename, evalue = getattr(exc, "ename", type(exc).__name__), getattr(exc, "evalue", str(exc))
    return RunError(f"{notebook}.ipynb", cell, f"{ename}: {str(evalue).splitlines()[0] if evalue else ''}")


def run(params_path: str | Path, out_root: Path | None = None, kernel: str = "python3", progress: bool = False,
        archive: bool = False, on_notebook: Callable[[str, str, float], None] | None = None) -> RunResult:
    """Run one question end to end into `<out_root>/<slug>/`; `on_notebook(slug, notebook, seconds)` is called
    as each notebook finishes."""
    params_path = Path(params_path).resolve()
    params: Params = load_params(params_path)  # raises ParamsError before anything runs
    out_root = Path(out_root or config.outputs_dir())
    out_root.mkdir(parents=True, exist_ok=True)
    target = out_root / params.slug
    with build_lock(target):  # one run per output folder: the swap below renames `.<slug>.old` beside it
        for stale in out_root.glob(f".{params.slug}.staging-*"):  # left by a killed run (none runs now)
            shutil.rmtree(stale, ignore_errors=True)
        timings = _run_notebooks(params_path, params, out_root, target, kernel, progress, on_notebook)
    if archive:
        make_archive(target)
    return RunResult(params.slug, target, timings)


def _run_notebooks(params_path: Path, params: Params, out_root: Path, target: Path, kernel: str, progress: bool,
                   on_notebook: Callable[[str, str, float], None] | None) -> dict[str, float]:
    """The four notebooks into a staging folder, the manifest, then the swap into `target`."""
    import papermill as pm

    staging = Path(tempfile.mkdtemp(prefix=f".{params.slug}.staging-", dir=out_root))
    timings: dict[str, float] = {}
    started = time.time()
    reviews = reviews_fingerprint(params.slug)  # before the notebooks read them: a later decision makes it stale
    try:
        nb_params = {"params_file": str(params_path), "out_dir": str(staging)}
        for name in NOTEBOOKS:
            t0 = time.time()
            executed = staging / f"{name}.ipynb"
            try:
                execute(pm.execute_notebook, str(config.notebooks_dir() / f"{name}.ipynb"), str(executed),
                        parameters=nb_params, kernel_name=kernel, progress_bar=progress,
                        cwd=str(config.notebooks_dir()), log_output=False,
                        kernel_manager_class=kernel_manager_class())
            except pm.PapermillExecutionError as exc:
                raise _execution_error(exc, name) from None
            render_html(executed, staging / f"{name}.html", params.question)
            timings[name] = round(time.time() - t0, 2)
            if on_notebook is not None:
                on_notebook(params.slug, name, timings[name])
        timings["total"] = round(time.time() - started, 2)
        manifest = {
            "slug": params.slug, "params_file": str(params_path), "params": params.model_dump(),
            "code_version": code_version(), "packages": package_versions(),
            "corpora": corpus_fingerprints([s.name for s in params.sources]), "reviews": reviews,
            "timings_s": timings, "llm": llm_usage(staging), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        write_text(staging / "manifest.json", json.dumps(manifest, indent=1))
        replace_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return timings


def make_archive(out_dir: Path) -> Path:
    """A single shareable zip of `outputs/<slug>/` next to it (`outputs/<slug>.zip`), written atomically."""
    out_dir = Path(out_dir)
    zip_path = out_dir.with_suffix(".zip")
    tmp_base = out_dir.parent / f".{out_dir.name}.zip-tmp"
    made = shutil.make_archive(str(tmp_base), "zip", root_dir=out_dir.parent, base_dir=out_dir.name)
    Path(made).replace(zip_path)
    return zip_path
