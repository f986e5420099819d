"""Fixtures shared by several test modules (built once per session)."""

from __future__ import annotations

import pytest
import yaml


@pytest.fixture(scope="session")
def hostile_run(tmp_path_factory):
    """`workbench run` (all four notebooks) on a corpus of real arXiv abstracts whose titles, abstracts and author
    names carry hostile text (tests/hostile.py), for a question that carries some too. Returns (params, out_dir)."""
    from helpers import runner
    from helpers.params import load_params
    from helpers.retrieval.store import add_corpus
    from tests.hostile import HOSTILE_QUESTION, build_hostile_corpus

    root = tmp_path_factory.mktemp("hostile")
    add_corpus("hostile", build_hostile_corpus(root / "hostile-corpus.jsonl"))
    params_file = root / "hostile.yaml"
    params_file.write_text(yaml.safe_dump({
        "question": HOSTILE_QUESTION, "slug": "hostile", "sources": ["local:hostile"], "min_papers": 3,
        "max_papers": 30, "claims_per_paper": 2,
        "criteria": {"include_any": [["speculative decoding", "draft model", "draft tokens"],
                                     ["speedup", "speed-up", "throughput", "latency", "faster", "acceleration"]],
                     "min_relevance": 0.3}}, allow_unicode=False))
    result = runner.run(params_file, out_root=root / "outputs")
    return load_params(params_file), result.out_dir


@pytest.fixture()
def fake_server():
    """A pytest-httpserver on 127.0.0.1 for the OpenAI-compatible fake (tests/fake_llm.py)."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()
