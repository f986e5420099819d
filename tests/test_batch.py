"""`workbench batch` without a cluster: validation before anything runs, what counts as current, how ONNX threads
are shared out, and the index rows and page (the Dask runs themselves are in test_batch_cluster.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from helpers.batch import index as batch_index
from helpers.batch.cluster import thread_plan
from helpers.batch.plan import BatchError, Question, default_name, load_questions, staleness
from helpers.batch.task import ORT_ENV, cpu_count, threads_for
from helpers.cli import app
from helpers.manifest import code_version, corpus_fingerprints, reviews_fingerprint
from helpers.params import load_params
from helpers.review import decisions as reviews
from helpers.runner import NOTEBOOKS

BATCH = Path("tests/fixtures/batch").resolve()
GOOD = {"question": "Does speculative decoding speed up inference?", "sources": ["local:fixture"]}


def _params(tmp_path: Path, name: str, **data) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**GOOD, "slug": name, **data}))
    return path


def test_every_invalid_file_is_named_with_its_field_and_nothing_runs(tmp_path):
    files = [_params(tmp_path, "good"), _params(tmp_path, "typo", max_paper=3),
             _params(tmp_path, "years", year_from=2024, year_to=2020)]
    out = tmp_path / "outputs"
    res = CliRunner().invoke(app, ["batch", *map(str, files), "--out", str(out)])
    assert res.exit_code == 2
    errors = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {files[1]}: max_paper: unknown key",
                      f"error: {files[2]}: year_from: year range is inverted (year_from > year_to)"]
    assert not out.exists()  # no cluster, no index, no outputs


def test_two_files_with_one_slug_are_refused(tmp_path):
    a, b = _params(tmp_path, "a", slug="same"), _params(tmp_path, "b", slug="same")
    with pytest.raises(BatchError) as exc:
        load_questions([a, b])
    assert exc.value.problems == [f"{b}: slug: 'same' is also the slug of {a}"]
    with pytest.raises(BatchError, match="named twice"):
        load_questions([a, a])


def test_batch_name_must_be_a_slug_and_not_clash_with_a_question(tmp_path):
    from helpers.batch.cluster import run_batch

    with pytest.raises(BatchError, match="--name"):
        run_batch([_params(tmp_path, "q")], name="My Batch", out_root=tmp_path / "o")
    with pytest.raises(BatchError, match="batch index folder"):
        run_batch([_params(tmp_path, "batch-x")], name="x", out_root=tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_default_name_is_the_params_folder():
    questions = load_questions([BATCH / "speculative.yaml", BATCH / "experts.yaml"])
    assert default_name(questions) == "batch"
    assert default_name([Question(Path("/x/params/a.yaml"), questions[0].params),
                         Question(Path("/y/b.yaml"), questions[1].params)]) == "batch"
    assert default_name([Question(Path("/x/Living Review/a.yaml"), questions[0].params)]) == "living-review"


def _finished_outputs(out_root: Path, q: Question) -> Path:
    """An outputs folder as a good run leaves it, with the manifest made by the real provenance functions."""
    out = out_root / q.slug
    out.mkdir(parents=True)
    for name in ["answer.json", "report.json", "report.html", "report.md", "review.json", "prisma.json"] + [
            f"{nb}{ext}" for nb in NOTEBOOKS for ext in (".ipynb", ".html")]:
        (out / name).write_text("{}")
    manifest = {"slug": q.slug, "params": q.params.model_dump(), "code_version": code_version(),
                "corpora": corpus_fingerprints([s.name for s in q.params.sources]),
                "reviews": reviews_fingerprint(q.slug), "timings_s": {"total": 12.5}, "finished": "2026-01-01T00:00:00Z"}
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def test_current_outputs_are_recognised_and_each_change_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_REVIEWS_DIR", str(tmp_path / "reviews"))
    (q,) = load_questions([BATCH / "speculative.yaml"])
    out = _finished_outputs(tmp_path, q)
    assert staleness(q, tmp_path) is None
    changed = Question(q.path, q.params.model_copy(update={"max_papers": 5}))
    assert staleness(changed, tmp_path) == "params changed"
    reviews.append(q.slug, reviews.ReviewDecision("claim", "C1", "reject"))
    assert staleness(q, tmp_path) == "review decisions changed"
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["reviews"] = reviews_fingerprint(q.slug)
    manifest["corpora"]["local:fixture"]["fingerprint"] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert staleness(q, tmp_path) == "corpus changed"
    manifest["corpora"] = corpus_fingerprints(["local:fixture"])
    manifest["code_version"] = "0123abcd"
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert staleness(q, tmp_path).startswith("code version changed (0123abcd -> ")
    manifest["code_version"] = code_version()
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert staleness(q, tmp_path) is None
    (out / "03_scoring.html").unlink()
    assert staleness(q, tmp_path) == "outputs incomplete (03_scoring.html missing)"
    (out / "manifest.json").unlink()  # a run that failed before the swap never leaves one
    assert staleness(q, tmp_path) == "no finished outputs"


def test_thread_plan_shares_each_hosts_cores_over_its_workers():
    workers = {"tcp://a:1": {"host": "a", "nthreads": 1}, "tcp://a:2": {"host": "a", "nthreads": 1},
               "tcp://b:1": {"host": "b", "nthreads": 2}, "tcp://c:1": {"host": "c", "nthreads": 4}}
    cores = {"tcp://a:1": 4, "tcp://a:2": 4, "tcp://b:1": 2, "tcp://c:1": 2}
    assert thread_plan(workers, cores) == {"tcp://a:1": 2, "tcp://a:2": 2, "tcp://b:1": 1, "tcp://c:1": 1}


def test_threads_for_a_worker(monkeypatch):
    monkeypatch.delenv(ORT_ENV, raising=False)
    assert threads_for(3) == 3
    assert threads_for({"local": 2, "tcp://elsewhere:1": 5}) == 2  # outside a worker the address is "local"
    assert threads_for(None) == cpu_count()
    monkeypatch.setenv(ORT_ENV, "4")
    assert threads_for(None) == 4 and threads_for({"tcp://elsewhere:1": 5}) == 4 and threads_for(1) == 1


HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def test_index_rows_read_each_questions_outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_REVIEWS_DIR", str(tmp_path / "reviews"))
    done_q, failed_q = load_questions([BATCH / "speculative.yaml", BATCH / "experts.yaml"])
    for q in (done_q, failed_q):
        out = _finished_outputs(tmp_path, q)
        (out / "answer.json").write_text(json.dumps({"text": "It does, at 2x. Second sentence.", "certainty": "low"}))
        (out / "report.json").write_text(json.dumps({"overall_score": 6.5, "included": 4, "claims": 7}))
    outcomes = {done_q.slug: {"status": "done", "seconds": 13.0, "worker": "tcp://127.0.0.1:1", "ort_threads": 1},
                failed_q.slug: {"status": "failed", "error": "02_claims.ipynb cell 4: ModelError: gone", "seconds": 3.0}}
    rows = batch_index.write_index([done_q, failed_q], outcomes, tmp_path, tmp_path / "batch-t", {"name": "t"})
    done, failed = rows
    assert (done["status"], done["answer"], done["certainty"], done["overall_score"], done["included"],
            done["claims"], done["run_s"]) == ("done", "It does, at 2x.", "low", 6.5, 4, 7, 12.5)
    assert done["report"] == f"../{done_q.slug}/report.html"
    assert done["notebooks"].split(";") == [f"../{done_q.slug}/{nb}.html" for nb in NOTEBOOKS]
    assert (failed["status"], failed["run_s"], failed["outputs_from"]) == ("failed", 3.0, "2026-01-01T00:00:00Z")
    assert failed["error"].startswith("02_claims.ipynb cell 4")
    csv_rows = __import__("pandas").read_csv(tmp_path / "batch-t" / "summary.csv", keep_default_na=False)
    assert list(csv_rows.slug) == [done_q.slug, failed_q.slug] and list(csv_rows.status) == ["done", "failed"]
    assert list(csv_rows.columns) == batch_index.COLUMNS
    html = (tmp_path / "batch-t" / "index.html").read_text()
    assert "from the last good run, 2026-01-01T00:00:00Z" in html


def test_index_page_escapes_every_text():
    row = {c: HOSTILE for c in batch_index.COLUMNS} | {"status": "failed", "run_s": 1.0, "notebooks": HOSTILE}
    html = batch_index.render_index([row], {"name": "n", "started": HOSTILE, "updated": "u", "dashboard": HOSTILE})
    assert "<script>alert" not in html and "<img src=x" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 8
    assert "default-src 'none'" in html and "<script" not in html.lower().replace("&lt;script", "")


def test_fixture_questions_are_valid():
    names = [load_params(p).slug for p in sorted(BATCH.glob("*.yaml"))]
    assert names == ["batch-broken", "batch-draft", "batch-experts", "batch-speculative"]


def test_bench_table_gives_each_ratio_against_the_first_row():
    from helpers.batch.bench import BenchRow, table

    rows = [BenchRow(1, 100.0, 12.0, 8, 0, "2", (1.0, 1.0, 1.0), (2.0, 1.5, 1.0)),
            BenchRow(2, 62.5, 14.0, 8, 0, "1", (2.0, 1.5, 1.0), (3.0, 2.0, 1.5))]
    lines = table(rows, 8, 2).splitlines()
    assert lines[0].startswith("8 questions, 2 cores")
    assert lines[-2] == "| 1 | 2 | 100.0 | 1.00x | 12.0 | 8 | 0 | 1.0/1.0/1.0 | 2.0/1.5/1.0 |"
    assert lines[-1] == "| 2 | 1 | 62.5 | 1.60x | 14.0 | 8 | 0 | 2.0/1.5/1.0 | 3.0/2.0/1.5 |"
