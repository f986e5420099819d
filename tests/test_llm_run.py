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
    params["llm"] = {"max_papers": 3, "stance": True}  # a short read keeps CI's slow test near a minute
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
    stance = json.loads((result.out_dir / "llm_stance.json").read_text())  # the shipped head is for this model
    assert stance["faults"] == [] and "qwen2.5-coder-1.5b-instruct's answer probabilities" in stance["reader"]
    read = json.loads((result.out_dir / "stance.json").read_text())
    methods = {s["method"] for by in read.values() for s in by.values() if s["label"] != "not addressed"}
    assert stance["papers_read"] == sum(m.startswith("stance-verifier+llm-lr") for by in read.values()
                                        for s in by.values() for m in [s["method"]])
    assert all(m.startswith(("stance-verifier+llm-lr", "stance-verifier-lr")) for m in methods)


@pytest.mark.slow
def test_the_real_server_gives_the_answer_probabilities_the_stance_head_was_fitted_on(local_server, tmp_path):
    """The stance head was fitted on answer probabilities computed in-process (training.stance.llm_features
    --gguf); the run asks the llama.cpp server. Both must read the same numbers off the same prompt."""
    from helpers.llm import stance as llm_stance
    from helpers.llm.client import LLMClient
    from helpers.llm.serve import model_path
    from helpers.llm.settings import DEFAULT_MODEL, LLMSettings
    from training.stance.llm_features import InProcess

    sentences = ["We compared a draft-model decoder with standard decoding on three benchmarks.",
                 "Speculative decoding did not reduce latency at batch size 32, and throughput fell by 8%."]
    msgs = llm_stance.messages("Does speculative decoding speed up inference at large batch sizes?", sentences)
    client = LLMClient(LLMSettings(url=local_server, model=DEFAULT_MODEL, temperature=0.0, seed=0, timeout=300.0,
                                   max_papers=4, context=4096, source="environment"), cache_root=tmp_path)
    served = llm_stance.answer_logprobs(client.first_token_logprobs(msgs, llm_stance.TOP))
    local = llm_stance.answer_logprobs(InProcess(model_path()).top(msgs))
    assert max(abs(served[a] - local[a]) for a in served) < 0.1, (served, local)
    assert max(served.values()) > -3  # one of the three answers is among the likely first tokens
