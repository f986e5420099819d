"""`workbench run` with the LLM reader on: against the local fake (reproducible, no secret anywhere, the server
down) and, marked slow, against the real llama.cpp server with the real model (skipped where llama-cpp-python or
the model is missing, unless WORKBENCH_REQUIRE_LLM=1, as in CI)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
from pathlib import Path

import pytest
import yaml
from pytest_httpserver import HTTPServer

from helpers import config, runner
from helpers.outputs import load_papers
from helpers.text import one_line
from tests.fake_llm import FABRICATED, UNSUPPORTED, FakeLLM, serve

FIXTURE = Path(__file__).parent / "fixtures" / "fixture.yaml"
SENTINEL = "sk-SENTINEL-run-4b1d-never-store-me"
DATE = re.compile(r"\*\*Date:\*\* .*")


def _all_text(*roots: Path) -> str:
    return "".join(p.read_bytes().decode("utf-8", "replace") for r in roots for p in r.rglob("*") if p.is_file())


def _llm_limitations(report: str) -> list[str]:
    lim = report.split("## Limitations", 1)[1].split("## References", 1)[0]
    return [line for line in lim.splitlines() if line.startswith("- ") and "LLM" in line]


@pytest.mark.slow
def test_a_run_with_the_llm_is_reproducible_offline_and_keeps_no_secret(tmp_path, monkeypatch):
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    fake = FakeLLM()
    try:
        monkeypatch.setenv("WORKBENCH_LLM_URL", serve(server, fake))
        monkeypatch.setenv("WORKBENCH_LLM_API_KEY", SENTINEL)
        first = runner.run(FIXTURE, out_root=tmp_path / "a")
        sent = len(fake.requests)
        second = runner.run(FIXTURE, out_root=tmp_path / "b")
    finally:
        server.stop()
    assert sent >= 3 and len(fake.requests) == sent  # the second run was answered from the cache alone
    assert all(r["authorization"] == f"Bearer {SENTINEL}" for r in fake.requests)
    a, b = (DATE.sub("", (r.out_dir / "report.md").read_text()) for r in (first, second))
    assert a == b and "## Answer by qwen2.5-coder-1.5b-instruct (LLM, checked sentence by sentence)" in a
    assert f"~~{UNSUPPORTED}~~" in a and FABRICATED not in a
    html = (first.out_dir / "report.html").read_text()
    assert f"<del>{UNSUPPORTED}</del>" in html and FABRICATED not in html
    assert (first.out_dir / "plan.json").exists() and "LLM plan" in a
    manifest = json.loads((first.out_dir / "manifest.json").read_text())["llm"]
    assert manifest["requests"] == sent and manifest["tokens_in"] > 0 and manifest["endpoint"].startswith("http://127.")
    assert set(manifest["seconds"]) == {"plan", "read", "answer", "check"}
    again = json.loads((second.out_dir / "manifest.json").read_text())["llm"]
    assert again["requests"] == 0 and again["cache_hits"] == sent
    assert SENTINEL not in _all_text(tmp_path / "a", tmp_path / "b", config.cache_dir())


@pytest.mark.slow
def test_a_run_with_the_server_down_completes_with_the_extractive_answer(tmp_path, monkeypatch):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    monkeypatch.setenv("WORKBENCH_LLM_URL", f"http://127.0.0.1:{port}/v1")
    result = runner.run(FIXTURE, out_root=tmp_path)
    report = (result.out_dir / "report.md").read_text()
    assert "## Answer\n" in report and "## Answer by" not in report
    lines = _llm_limitations(report)
    assert len(lines) == 1 and "cannot reach" in lines[0], lines


def _local_model_ready() -> str | None:
    from helpers.llm.serve import MODEL_BYTES, model_path

    if not importlib.util.find_spec("llama_cpp"):
        return "llama-cpp-python is not installed (make llm-setup)"
    if not model_path().exists() or model_path().stat().st_size != MODEL_BYTES:
        return f"the model is not assembled at {model_path()} (workbench llm fetch)"
    return None


@pytest.fixture(scope="module")
def local_server(tmp_path_factory):
    """The real llama.cpp server with the real model on a free 127.0.0.1 port, for this module."""
    missing = _local_model_ready()
    if missing:
        if os.environ.get("WORKBENCH_REQUIRE_LLM"):
            pytest.fail(missing)
        pytest.skip(missing)
    from helpers.llm.serve import start

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = start(port=port, install=False, log=tmp_path_factory.mktemp("llm") / "server.log")
    yield f"http://127.0.0.1:{port}/v1"
    proc.terminate()
    proc.wait(timeout=30)


@pytest.mark.slow
def test_the_real_local_model_end_to_end(local_server, tmp_path, monkeypatch):
    """The fixture question through all four notebooks with Qwen2.5-Coder-1.5B: every kept sentence cites
    included papers, every kept quote is in its abstract, the report shows the answer beside the extractive one."""
    monkeypatch.setenv("WORKBENCH_LLM_URL", local_server)
    params = yaml.safe_load(FIXTURE.read_text())
    params["llm"] = {"max_papers": 3}  # a short read keeps CI's slow test near a minute
    pfile = tmp_path / "q.yaml"
    pfile.write_text(yaml.safe_dump(params))
    result = runner.run(pfile, out_root=tmp_path / "out")
    rec = json.loads((result.out_dir / "llm_answer.json").read_text())
    included, _, _ = load_papers(result.out_dir)
    abstracts = {p.id: one_line(p.abstract) for p in included}
    assert rec["counts"]["papers_read"] >= 1, rec["faults"]
    for r in rec["readings"]:
        assert all(q in abstracts[r["paper_id"]] for q in r["quotes"])
    for a in rec["answers"]:
        assert all(s["supported_by"] and all(1 <= n <= len(included) for n in s["supported_by"]) for s in a["sentences"])
    report = (result.out_dir / "report.md").read_text()
    assert ("## Answer by qwen2.5-coder-1.5b-instruct" in report) == (rec["counts"]["sentences_kept"] +
                                                                      rec["counts"]["sentences_removed"] > 0)
    assert json.loads((result.out_dir / "manifest.json").read_text())["llm"]["tokens_out"] > 0
