"""`workbench run`: validate params, execute the four notebooks with papermill, render HTML, swap outputs in.

Outputs are built in a staging folder beside `outputs/<slug>/` and swapped in only when every notebook
succeeded, so a failed run leaves the last good outputs in place and says which notebook and cell failed.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import config
from .atomic import replace_dir, write_text
from .errors import RunError
from .manifest import code_version, corpus_fingerprints, package_versions
from .params import Params, load_params

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


def _execution_error(exc: Exception, notebook: str) -> RunError:
    cell = getattr(exc, "exec_count", None)
    ename, evalue = getattr(exc, "ename", type(exc).__name__), getattr(exc, "evalue", str(exc))
    return RunError(f"{notebook}.ipynb", cell, f"{ename}: {str(evalue).splitlines()[0] if evalue else ''}")


def run(params_path: str | Path, out_root: Path | None = None, kernel: str = "python3", progress: bool = False,
        archive: bool = False) -> RunResult:
    """Run one question end to end into `<out_root>/<slug>/`."""
    import papermill as pm

    params_path = Path(params_path).resolve()
    params: Params = load_params(params_path)  # raises ParamsError before anything runs
    out_root = Path(out_root or config.outputs_dir())
    out_root.mkdir(parents=True, exist_ok=True)
    target = out_root / params.slug
    staging = Path(tempfile.mkdtemp(prefix=f".{params.slug}.staging-", dir=out_root))
    timings: dict[str, float] = {}
    started = time.time()
    try:
        nb_params = {"params_file": str(params_path), "out_dir": str(staging)}
        for name in NOTEBOOKS:
            t0 = time.time()
            executed = staging / f"{name}.ipynb"
            try:
                pm.execute_notebook(str(config.notebooks_dir() / f"{name}.ipynb"), str(executed),
                                    parameters=nb_params, kernel_name=kernel, progress_bar=progress,
                                    cwd=str(config.notebooks_dir()), log_output=False)
            except pm.PapermillExecutionError as exc:
                raise _execution_error(exc, name) from None
            render_html(executed, staging / f"{name}.html", params.question)
            timings[name] = round(time.time() - t0, 2)
        timings["total"] = round(time.time() - started, 2)
        manifest = {
            "slug": params.slug, "params_file": str(params_path), "params": params.model_dump(),
            "code_version": code_version(), "packages": package_versions(),
            "corpora": corpus_fingerprints([s.name for s in params.sources]),
            "timings_s": timings, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        write_text(staging / "manifest.json", json.dumps(manifest, indent=1))
        replace_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if archive:
        make_archive(target)
    return RunResult(params.slug, target, timings)


def make_archive(out_dir: Path) -> Path:
    """A single shareable zip of `outputs/<slug>/` next to it (`outputs/<slug>.zip`), written atomically."""
    out_dir = Path(out_dir)
    zip_path = out_dir.with_suffix(".zip")
    tmp_base = out_dir.parent / f".{out_dir.name}.zip-tmp"
    made = shutil.make_archive(str(tmp_base), "zip", root_dir=out_dir.parent, base_dir=out_dir.name)
    Path(made).replace(zip_path)
    return zip_path
