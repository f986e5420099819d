"""End to end: `workbench run` executes the four notebooks with papermill on the fixture corpus."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import bibtexparser
import nbformat
import pandas as pd
import pytest

from helpers import config, runner
from helpers.errors import RunError
from helpers.synthesis.report import consistency_problems

FIXTURE = Path("tests/fixtures/fixture.yaml").resolve()
EXPECTED = ["papers.csv", "claims.csv", "prisma.json", "prisma.png", "review.json", "report.md", "report.html",
            "references.bib", "references.ris", "references.json", "references.csv", "manifest.json",
            "01_retrieval.html", "02_claims.html", "03_scoring.html", "04_report.html"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("outputs")
    result = runner.run(FIXTURE, out_root=out)
    return result.out_dir


@pytest.mark.slow
def test_run_writes_every_output(run_dir: Path):
    for name in EXPECTED:
        assert (run_dir / name).stat().st_size > 0, name
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["corpora"]["local:fixture"]["n_docs"] == 72 and manifest["corpora"]["local:fixture"]["fingerprint"]
    assert set(manifest["timings_s"]) >= {"01_retrieval", "02_claims", "03_scoring", "04_report", "total"}
    assert manifest["code_version"] and manifest["packages"]["papermill"] != "not installed"
    assert not list(run_dir.parent.glob(".*staging*"))


@pytest.mark.slow
def test_counts_agree_across_files(run_dir: Path):
    assert consistency_problems(run_dir) == []
    prisma = json.loads((run_dir / "prisma.json").read_text())
    papers = pd.read_csv(run_dir / "papers.csv", keep_default_na=False)
    bib = bibtexparser.parse_string((run_dir / "references.bib").read_text())
    included = set(papers.loc[papers.decision == "included", "id"])
    assert prisma["included"] == len(included) == len(bib.entries) > 0
    claims = pd.read_csv(run_dir / "claims.csv", keep_default_na=False)
    assert set(claims.paper_id) <= included
    stated = json.loads((run_dir / "report.json").read_text())
    assert stated["claims"] == len(claims)
    md = (run_dir / "report.md").read_text()
    assert f"| **Included** | **{prisma['included']}** |" in md
    assert md.index("## Answer") < md.index("## Abstract") < md.index("## Methods") < md.index("## References")


@pytest.mark.slow
def test_real_readers_read_the_exports_exactly(run_dir: Path):
    """Normal records: bibutils and pandoc --citeproc read one record per included paper, titles unchanged."""
    from helpers.outputs import load_papers
    from tests import readers

    included = [p.title for p in load_papers(run_dir)[0]]
    assert set(readers.read_exports(run_dir).values()) == {len(included)}
    assert readers.ris_titles(run_dir / "references.ris") == included
    assert readers.bib_titles(run_dir / "references.bib") == included


@pytest.mark.slow
def test_each_rendered_notebook_is_titled_by_its_stage_and_the_question(run_dir: Path):
    import re

    question = json.loads((run_dir / "manifest.json").read_text())["params"]["question"]
    titles = [re.search(r"<title>(.*?)</title>", (run_dir / f"{n}.html").read_text()).group(1) for n in runner.NOTEBOOKS]
    assert titles == [f"{i} · {stage}: {question}" for i, stage in enumerate(["Retrieval", "Claims", "Answer and scoring", "Report"], 1)]


@pytest.mark.slow
def test_rendered_notebooks_hide_plumbing(run_dir: Path):
    html = (run_dir / "01_retrieval.html").read_text()
    assert "retrieval.run(params)" not in html  # plumbing inputs hidden
    assert "PRISMA" in html and "data:image/png;base64" in html  # headings and figure kept
    nb = nbformat.read(run_dir / "02_claims.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "params_file" in injected[0].source


@pytest.mark.slow
def test_failed_notebook_keeps_last_good_outputs(run_dir: Path, tmp_path, monkeypatch):
    before = (run_dir / "report.md").read_text()
    broken = tmp_path / "notebooks"
    shutil.copytree(config.notebooks_dir(), broken)
    nb = nbformat.read(broken / "03_scoring.ipynb", as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell("raise RuntimeError('reviewer crashed')"))
    nbformat.write(nb, broken / "03_scoring.ipynb")
    monkeypatch.setenv("WORKBENCH_NOTEBOOKS_DIR", str(broken))
    with pytest.raises(RunError) as exc:
        runner.run(FIXTURE, out_root=run_dir.parent)
    assert exc.value.notebook == "03_scoring.ipynb" and "reviewer crashed" in str(exc.value)
    assert exc.value.cell is not None
    assert (run_dir / "report.md").read_text() == before
    assert not list(run_dir.parent.glob(".*staging*"))


def test_kernels_are_started_with_transport_encryption(monkeypatch):
    """ipykernel warns on every start that TCP is unencrypted; papermill's kernels ask for CurveZMQ keys instead
    (the warning's own advice), and do not ask where pyzmq lacks CURVE."""
    import zmq
    from jupyter_client.manager import AsyncKernelManager

    runner.kernel_manager_class.cache_clear()
    km = runner.kernel_manager_class()(kernel_name="python3")
    assert isinstance(km, AsyncKernelManager) and km.transport_encryption == "auto"
    assert km._kernel_supports_curve_encryption()  # the python3 kernelspec declares it, so keys are provisioned
    runner.kernel_manager_class.cache_clear()
    monkeypatch.setattr(zmq, "has", lambda feature: False)
    assert runner.kernel_manager_class()(kernel_name="python3").transport_encryption == "disabled"
    runner.kernel_manager_class.cache_clear()


def test_kernel_is_not_interrupted_on_shutdown_but_still_on_a_timeout(monkeypatch):
    import asyncio

    from jupyter_client.manager import AsyncKernelManager

    sent = []

    async def interrupt(self):
        sent.append(self.shutting_down)

    monkeypatch.setattr(AsyncKernelManager, "_async_interrupt_kernel", interrupt)
    km = runner.kernel_manager_class()(kernel_name="python3")
    km.shutting_down = False
    asyncio.run(km._async_interrupt_kernel())  # e.g. nbclient's interrupt on a cell timeout
    km.shutting_down = True
    asyncio.run(km._async_interrupt_kernel())  # what shutdown_kernel sends before its shutdown request
    assert sent == [False]


def test_a_kernel_that_never_came_up_is_started_again_but_a_failing_cell_is_not():
    """The port race of kernels started at once (a batch's workers): the kernel dies binding a taken port and
    papermill raises "Kernel didn't respond"; nothing ran, so the notebook is started afresh, at most 3 times."""
    import papermill as pm

    calls = []

    def flaky(path, out, **kw):
        calls.append(path)
        if len(calls) < 3:
            raise RuntimeError(["Kernel didn't respond in 60 seconds", "Kernel died before replying to kernel_info"]
                               [len(calls) - 1])
        return "executed"

    assert runner.execute(flaky, "01.ipynb", "out.ipynb", kernel_name="python3") == "executed" and len(calls) == 3
    calls.clear()

    def dead(path, out, **kw):
        calls.append(path)
        raise RuntimeError("Kernel didn't respond in 60 seconds")

    with pytest.raises(RuntimeError, match="didn't respond"):
        runner.execute(dead, "01.ipynb", "out.ipynb")
    assert len(calls) == runner.KERNEL_START_ATTEMPTS
    calls.clear()

    def cell_fails(path, out, **kw):
        calls.append(path)
        raise pm.PapermillExecutionError(3, 3, "ValueError: bad", "ValueError", "bad", [])

    with pytest.raises(pm.PapermillExecutionError):
        runner.execute(cell_fails, "01.ipynb", "out.ipynb")
    assert len(calls) == 1  # a cell's error is the notebook's result, never retried
