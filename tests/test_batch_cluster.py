"""`workbench batch` on real Dask clusters, bound to 127.0.0.1: a LocalCluster of 2 worker processes running 3
small questions on the fixture corpus (one failing on purpose), an external `dask scheduler` with two
`dask worker` processes, and a batch killed mid-way then resumed with a person's decision made in between."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import psutil
import pytest

from helpers import config
from helpers.outputs import compare_runs
from helpers.review import decisions as reviews
from helpers.runner import NOTEBOOKS

pytestmark = pytest.mark.slow

BATCH = Path("tests/fixtures/batch").resolve()
GOOD = ["batch-speculative", "batch-experts"]


def _yaml(slug: str) -> str:
    return str(BATCH / f"{slug.removeprefix('batch-')}.yaml")


def workbench(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "helpers.cli", *args], env=env or dict(os.environ),
                          capture_output=True, text=True, timeout=timeout)


def _summary(out_root: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out_root / f"batch-{name}" / "summary.csv", keep_default_na=False).set_index("slug")


def _expected_threads(workers_on_host: int) -> int:
    from dask.system import cpu_count

    return max(1, cpu_count() // workers_on_host)


@pytest.fixture(scope="module")
def broken_corpus(tmp_path_factory):
    """`fixture-broken`: registered while readable, then given a malformed line (its store rebuild fails)."""
    from helpers.retrieval.store import add_corpus

    path = tmp_path_factory.mktemp("broken") / "broken.jsonl"
    shutil.copy(config.cache_dir().parent / "fixture-corpus.jsonl", path)
    add_corpus("fixture-broken", path)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"id": "2501.00001", "title": "cut off\n')
    return path


@pytest.fixture(scope="module")
def local_batch(tmp_path_factory, broken_corpus):
    """`workbench run` of the two good questions, then `workbench batch` of all three on 2 local workers."""
    from helpers.retrieval.dense import DenseIndex
    from helpers.retrieval.store import open_corpus

    # the first run of the session would embed the fixture corpus and show that progress in its notebook: embed
    # it now, so that the reference run and the batch both find the cache (as every later run does)
    DenseIndex.for_store(open_corpus("fixture", progress=False), progress=False)
    tmp = tmp_path_factory.mktemp("local-batch")
    env = {**os.environ, "WORKBENCH_REVIEWS_DIR": str(tmp / "reviews")}
    ref = workbench("run", *map(_yaml, GOOD), "--out", str(tmp / "ref"), env=env)
    batch = workbench("batch", *map(_yaml, GOOD), _yaml("batch-broken"), "--workers", "2", "--name", "fixtures",
                      "--dashboard", "127.0.0.1:0", "--out", str(tmp / "batch"), env=env)
    return {"ref": ref, "batch": batch, "ref_root": tmp / "ref", "out_root": tmp / "batch", "env": env}


def test_workbench_run_prints_one_line_per_notebook_and_no_kernel_warning(local_batch):
    ref = local_batch["ref"]
    assert ref.returncode == 0, ref.stderr[-3000:]
    lines = ref.stdout.splitlines()
    expected = [rf"{slug}: {nb} done \(\d+\.\d s\)" for slug in GOOD for nb in NOTEBOOKS]
    progress = [line for line in lines if " done (" in line]
    assert len(progress) == 8 and all(re.fullmatch(p, line) for p, line in zip(expected, progress, strict=True))
    assert [line.split(":")[0] for line in lines if ": outputs in " in line] == GOOD and len(lines) == 10
    assert "without encryption" not in ref.stderr and ref.stderr.strip() == ""


def test_batch_runs_three_questions_on_two_workers_and_one_failure_stops_nothing(local_batch):
    batch, out_root = local_batch["batch"], local_batch["out_root"]
    assert batch.returncode == 1, batch.stderr[-3000:]  # one question failed
    lines = batch.stdout.splitlines()
    assert re.fullmatch(rf"batch fixtures: 3 of 3 questions on 2 workers \({_expected_threads(2)} ONNX threads each\); "
                        r"dashboard http://127\.0\.0\.1:\d+/status", lines[0]), lines[0]
    assert {line.split(":")[0] for line in lines[1:4]} == {*GOOD, "batch-broken"}
    assert lines[-1] == f"batch fixtures: 2 done, 0 current, 1 failed; index {out_root / 'batch-fixtures' / 'index.html'}"
    assert "without encryption" not in batch.stderr and "questions:" in batch.stderr  # the progress bar
    summary = _summary(out_root, "fixtures")
    assert list(summary.index) == [*GOOD, "batch-broken"]
    assert list(summary.status) == ["done", "done", "failed"]
    assert all(re.fullmatch(r"tcp://127\.0\.0\.1:\d+", w) for w in summary.worker[GOOD])
    assert 1 <= summary.worker.nunique() <= 2 and set(summary.ort_threads) == {_expected_threads(2)}


def test_failed_question_is_named_with_its_notebook_and_cell(local_batch):
    out_root = local_batch["out_root"]
    broken = _summary(out_root, "fixtures").loc["batch-broken"]
    # its only source fails (softly, by design), and notebook 01 then fails on the empty screening table
    assert re.fullmatch(r"01_retrieval\.ipynb cell \d+: \w+: .+", broken.error), broken.error
    assert f"batch-broken: FAILED: {broken.error}" in local_batch["batch"].stdout
    assert not (out_root / "batch-broken").exists() and not list(out_root.glob(".*staging*"))


def test_batch_outputs_are_identical_to_workbench_run_apart_from_timestamps(local_batch):
    for slug in GOOD:
        assert compare_runs(local_batch["ref_root"] / slug, local_batch["out_root"] / slug) == [], slug


def test_index_lists_every_question_with_its_figures(local_batch):
    out_root = local_batch["out_root"]
    html = (out_root / "batch-fixtures" / "index.html").read_text()
    assert re.findall(r'<tr id="q-([a-z-]+)" data-status="([a-z ]+)">', html) == [
        ("batch-speculative", "done"), ("batch-experts", "done"), ("batch-broken", "failed")]
    summary = _summary(out_root, "fixtures")
    for slug in GOOD:
        report = json.loads((out_root / slug / "report.json").read_text())
        answer = json.loads((out_root / slug / "answer.json").read_text())
        row = summary.loc[slug]
        assert (row.included, row.claims, row.overall_score) == tuple(  # the failed row's blanks make them text
            str(report[k]) for k in ("included", "claims", "overall_score"))
        assert answer["text"].startswith(row.answer) and row.certainty == answer["certainty"]
        assert float(row.run_s) == json.loads((out_root / slug / "manifest.json").read_text())["timings_s"]["total"]
        assert f'href="../{slug}/report.html"' in html and f'href="../{slug}/02_claims.html"' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html


def test_a_second_batch_skips_what_is_current(local_batch):
    out_root = local_batch["out_root"]
    again = workbench("batch", *map(_yaml, GOOD), "--name", "again", "--dashboard", "127.0.0.1:0",
                      "--out", str(out_root), env=local_batch["env"])
    assert again.returncode == 0, again.stderr[-3000:]
    assert [line.split(":")[0] for line in again.stdout.splitlines() if "current, skipped" in line] == GOOD
    assert "batch again: nothing to run" in again.stdout
    assert list(_summary(out_root, "again").status) == ["current", "current"]


@pytest.mark.browser
def test_index_page_in_a_browser(local_batch):
    from playwright.sync_api import sync_playwright

    from tests.browser import launch

    index = local_batch["out_root"] / "batch-fixtures" / "index.html"
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        dialogs, errors = [], []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(index.as_uri())
        assert page.locator("#questions tbody tr").count() == 3
        assert page.locator("#summary").inner_text().startswith("3 questions: 2 done, 1 failed.")
        broken = page.locator("#q-batch-broken")
        assert "<script>alert(1)</script>" in broken.inner_text()  # shown as text, never run
        assert page.locator("#questions script, #questions img").count() == 0
        assert "01_retrieval.ipynb cell" in broken.locator(".error").inner_text()
        done = page.locator("#q-batch-speculative")
        assert done.locator("a.notebook").count() == 4 and done.locator("td.answer").inner_text().strip()
        done.locator("a.report").click()
        page.wait_for_load_state("load")
        assert page.url.endswith("/batch-speculative/report.html") and page.locator("#answer").is_visible()
        assert dialogs == [] and errors == []
        browser.close()


def _start_logged(args: list[str], log: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(args, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)


def test_batch_on_an_existing_scheduler_with_two_dask_workers(tmp_path):
    from distributed import Client

    dask = str(Path(sys.executable).parent / "dask")
    env = {**os.environ, "WORKBENCH_REVIEWS_DIR": str(tmp_path / "reviews")}
    scheduler_file = tmp_path / "scheduler.json"
    procs = [_start_logged([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address",
                            "127.0.0.1:0", "--scheduler-file", str(scheduler_file)], tmp_path / "scheduler.log", env)]
    try:
        deadline = time.time() + 60
        while not scheduler_file.exists() and time.time() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        procs += [_start_logged([dask, "worker", address, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1",
                                 "--no-dashboard", "--name", f"w{i}"], tmp_path / f"worker{i}.log", env)
                  for i in range(2)]
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
            workers = set(client.scheduler_info(n_workers=-1)["workers"])
        out_root = tmp_path / "out"
        res = workbench("batch", *map(_yaml, GOOD), "--scheduler", address, "--name", "ext", "--out", str(out_root),
                        "--ort-threads", "3", env=env)
        assert res.returncode == 0, res.stdout + res.stderr[-3000:]
        dashboard = re.search(r"dashboard (http://127\.0\.0\.1:\d+/status)", res.stdout).group(1)
        with urllib.request.urlopen(dashboard, timeout=10) as resp:  # the scheduler's own dashboard
            assert resp.status == 200
        summary = _summary(out_root, "ext")
        assert list(summary.status) == ["done", "done"] and set(summary.worker) <= workers
        assert set(summary.ort_threads) == {3} and "(3 ONNX threads each)" in res.stdout
        assert all((out_root / slug / "report.html").exists() for slug in GOOD)
    finally:
        for proc in reversed(procs):  # workers first, then the scheduler, each by its own process id
            os.kill(proc.pid, signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
    assert all(proc.poll() is not None for proc in procs)


def test_killed_batch_resumes_skipping_what_finished_and_honours_new_decisions(tmp_path, monkeypatch):
    slugs = ["batch-speculative", "batch-experts", "batch-draft"]
    out_root = tmp_path / "out"
    monkeypatch.setenv("WORKBENCH_REVIEWS_DIR", str(tmp_path / "reviews"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-m", "helpers.cli", "batch", *map(_yaml, slugs), "--name", "resume", "--dashboard",
            "127.0.0.1:0", "--out", str(out_root), "--no-progress"]
    proc = subprocess.Popen([*args, "--workers", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    finished: list[str] = []
    deadline = time.time() + 300
    while len(finished) < 2 and time.time() < deadline and proc.poll() is None:
        finished = [s for s in slugs if (out_root / s / "manifest.json").exists()]
        time.sleep(0.2)
    assert len(finished) == 2, "two questions should finish before the kill"
    family = psutil.Process(proc.pid).children(recursive=True)
    os.killpg(proc.pid, signal.SIGKILL)  # the batch, its nanny and worker (its own process group)
    proc.wait(timeout=30)
    gone, alive = psutil.wait_procs(family, timeout=30)  # kernels see their parent die and exit too
    for p in alive:
        p.kill()
    assert alive == []
    (unfinished,) = set(slugs) - set(finished)
    assert not (out_root / unfinished / "manifest.json").exists()

    # a person reviews a finished question while the batch is down: rejects one claim
    reviewed = finished[0]
    claim = pd.read_csv(out_root / reviewed / "claims.csv").claim_id.iloc[0]
    reviews.append(reviewed, reviews.ReviewDecision("claim", claim, "reject", note="not a finding"))

    again = subprocess.run([*args, "--workers", "2"], env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    summary = _summary(out_root, "resume")
    assert summary.loc[finished[1], "status"] == "current"  # finished and unchanged: skipped
    assert summary.loc[reviewed, "status"] == "done"  # re-run because its decisions changed
    assert summary.loc[unfinished, "status"] == "done"
    assert f"{finished[1]}: current, skipped" in again.stdout
    assert claim not in set(pd.read_csv(out_root / reviewed / "claims.csv").claim_id)
    assert claim in set(pd.read_csv(out_root / reviewed / "claims_rejected.csv").claim_id)
    assert json.loads((out_root / reviewed / "report.json").read_text())["human"]["claims_rejected"] == 1
    assert not list(out_root.glob(".*staging*"))  # the killed run's staging folder is gone
