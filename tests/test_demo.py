"""The full index in the background and `workbench demo`: one builder at a time, progress and estimates printed,
the first report before the full index, the methods saying so."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from helpers import config
from helpers.retrieval.store import open_corpus
from helpers.retrieval.vectors import cache_paths


def test_full_build_lock_and_background_build(monkeypatch):
    from helpers.retrieval import indexing
    from helpers.retrieval.store import add_corpus

    monkeypatch.setenv("WORKBENCH_EMBED_MAX_TOKENS", "64")  # the background process inherits it
    store = add_corpus("fixture-bg", Path(open_corpus("fixture").meta()["source"]))
    st = indexing.state(store)
    assert not st.complete and st.builder is None and "no full index" in st.describe()
    with indexing.build_lock(store, st.max_length):  # another process is building it:
        assert indexing.build(store, wait=False) is None  # a build that must not wait leaves at once,
        assert indexing.start_background(store)[0] is None  # and no second builder starts
        assert indexing.state(store).builder is not None
    pid, log = indexing.start_background(store, low_priority=False)  # lowest priority starves on a busy machine
    assert pid and log == config.cache_dir() / "corpora" / "fixture-bg.embed.log"
    deadline = time.time() + 120
    while not ((st := indexing.state(store)).complete and st.builder is None) and time.time() < deadline:
        time.sleep(0.5)
    assert st.complete and "72 documents embedded" in log.read_text(), log.read_text()
    assert np.load(cache_paths(store, st.max_length)["keys"]).shape == (72,)
    assert "full index (72 documents" in indexing.state(store).describe()


@pytest.mark.slow
def test_demo_prints_each_step_and_reports_before_the_full_index(tmp_path, monkeypatch, capsys):
    import yaml

    from helpers.demo import run_demo
    from helpers.retrieval import indexing
    from helpers.retrieval import search as search_mod
    from helpers.retrieval.store import add_corpus

    store = add_corpus("fixture-dm", Path(open_corpus("fixture").meta()["source"]))
    monkeypatch.setenv("WORKBENCH_AUTO_EMBED_MAX", "10")  # 72 documents count as a large corpus here
    monkeypatch.setenv("WORKBENCH_EMBED_MAX_TOKENS", "64")  # as the arXiv corpus it is cut from (4x faster)
    monkeypatch.setattr(search_mod, "_INDEXES", {})
    start = indexing.start_background
    monkeypatch.setattr(indexing, "start_background", lambda store: start(store, low_priority=False))
    spec = yaml.safe_load(Path("tests/fixtures/fixture.yaml").read_text())
    spec.update(sources=["local:fixture-dm"], slug="demo-fixture")
    params = tmp_path / "demo.yaml"
    params.write_text(yaml.safe_dump(spec))
    steps = run_demo([params], out_root=tmp_path / "out")
    printed = capsys.readouterr().out
    assert "[store] fixture-dm" in printed and "[index] fixture-dm: no full index" in printed
    assert "documents/s now" in printed and "[question 1/1] demo-fixture: about" in printed
    assert "embeds about" in printed  # the estimate names the on-demand work
    assert "full index build started in the background" in printed
    assert [s.name for s in steps] == ["search store of fixture-dm", "question 1: demo-fixture"]
    assert all(s.estimate_s and s.took_s > 0 for s in steps)
    md = (tmp_path / "out" / "demo-fixture" / "report.md").read_text()
    assert "dense scores over the BM25 candidates only" in md
    deadline = time.time() + 120
    while not ((st := indexing.state(store)).complete and st.builder is None) and time.time() < deadline:
        time.sleep(0.5)
    assert st.complete and st.on_demand == 0  # the on-demand vectors were folded into the full index


def test_lowest_priority_covers_the_process_and_its_autogroup():
    import subprocess
    import sys

    code = ("import os; from helpers.retrieval.indexing import lowest_priority; lowest_priority(); "
            "print(os.nice(0)); print(open('/proc/self/autogroup').read() if os.path.exists('/proc/self/autogroup') "
            "else 'none')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         start_new_session=True).stdout.split("\n")
    assert out[0] == "19"
    assert out[1] == "none" or out[1].endswith("nice 19"), out
