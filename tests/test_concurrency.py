"""State shared by concurrent processes (batch workers, notebook kernels) stays correct: one builder per corpus
store, embedding cache and registry while the others wait; the HTTP cache and review files take concurrent
writers; the verifier and embedder use the thread count they are given.

The lock tests hold the lock in this process, start the child processes, wait until each is about to open the
shared file, and check that none builds while the lock is held; after it is released exactly one builds.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.locks import build_lock

ROOT = Path(__file__).resolve().parent.parent


def _env(cache: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_HTTP")}
    env.update({"WORKBENCH_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **extra})
    return env


def _start(code: str, env: dict[str, str], n: int) -> list[subprocess.Popen]:
    """`n` Python processes running `code`; each prints "ready" before touching the shared state."""
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(n)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    time.sleep(1.0)  # each is now at the shared file (or blocked on its lock)
    return procs


def _finish(procs: list[subprocess.Popen]) -> list[tuple[str, str]]:
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
    return outs


def _tiny_corpus(cache: Path, name: str = "tiny") -> Path:
    """Register the session's fixture corpus file under `name` in a fresh cache, without building its store."""
    from helpers import config

    src = config.cache_dir().parent / "fixture-corpus.jsonl"
    corpora = cache / "corpora"
    corpora.mkdir(parents=True, exist_ok=True)
    (corpora / "registry.json").write_text(json.dumps({name: str(src)}))
    return corpora / f"{name}.sqlite"


def test_one_process_builds_a_store_while_the_others_wait(tmp_path):
    db = _tiny_corpus(tmp_path)
    code = ("from helpers.retrieval.store import open_corpus; print('ready', flush=True); "
            "print(len(open_corpus('tiny', progress=True)))")
    with build_lock(db):
        procs = _start(code, _env(tmp_path), 3)
        assert not db.exists() and all(p.poll() is None for p in procs)  # all waiting on the lock
    outs = _finish(procs)
    assert [out.split()[-1] for out, _ in outs] == ["72"] * 3
    assert sum("ingest tiny" in err for _, err in outs) == 1  # one built it, two reused it


def test_one_process_embeds_a_corpus_while_the_others_wait(tmp_path, monkeypatch):
    db = _tiny_corpus(tmp_path)
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))
    from helpers.retrieval.dense import cache_paths, default_max_length
    from helpers.retrieval.store import open_corpus

    emb = cache_paths(open_corpus("tiny", progress=False), default_max_length())["emb"]
    assert db.exists() and not emb.exists()
    code = ("import hashlib; from helpers.retrieval.store import open_corpus; "
            "from helpers.retrieval.dense import DenseIndex; s = open_corpus('tiny', progress=False); "
            "print('ready', flush=True); idx = DenseIndex.for_store(s, progress=True); "
            "print(idx.vectors.shape[0], hashlib.sha256(idx.vectors.tobytes()).hexdigest())")
    with build_lock(emb):
        procs = _start(code, _env(tmp_path, WORKBENCH_ORT_THREADS="1"), 3)
        assert not emb.exists() and all(p.poll() is None for p in procs)
    outs = _finish(procs)
    results = {out.splitlines()[-1] for out, _ in outs}
    assert len(results) == 1 and results.pop().startswith("72 ")  # the same vectors everywhere
    assert sum("embed tiny" in err for _, err in outs) == 1
    assert not list(emb.parent.glob("*partial*"))


def test_concurrent_corpus_registrations_are_all_kept(tmp_path):
    _tiny_corpus(tmp_path, "first")
    registry = tmp_path / "corpora" / "registry.json"
    src = json.loads(registry.read_text())["first"]
    code = ("import sys; from helpers.retrieval.store import add_corpus; name = sys.stdin.readline().strip(); "
            f"print('ready', flush=True); add_corpus(name, {src!r})")
    before = registry.read_text()
    with build_lock(registry):
        procs = [subprocess.Popen([sys.executable, "-c", code], env=_env(tmp_path), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        for i, p in enumerate(procs):
            p.stdin.write(f"c{i}\n")
            p.stdin.flush()
            assert p.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        assert registry.read_text() == before  # nobody writes while the lock is held
    _finish(procs)
    assert set(json.loads(registry.read_text())) == {"first", "c0", "c1", "c2", "c3"}


def test_review_appends_from_many_processes_stay_whole_lines(tmp_path):
    path = tmp_path / "reviews" / "q.jsonl"
    code = ("import sys; from pathlib import Path; from helpers.review.decisions import ReviewDecision, append; "
            "print('ready', flush=True); who = sys.stdin.readline().strip(); "
            f"[append('q', ReviewDecision('claim', f'C{{who}}-{{i}}', 'accept', note='x' * 300), Path({str(path)!r})) "
            "for i in range(60)]")
    procs = _start(code, _env(tmp_path), 4)
    for i, p in enumerate(procs):  # all start appending at once
        p.stdin.write(f"{i}\n")
        p.stdin.flush()
    _finish(procs)
    lines = path.read_text().splitlines()
    assert len(lines) == 240
    ids = {json.loads(line)["id"] for line in lines}  # every line parses: none torn or interleaved
    assert ids == {f"C{w}-{i}" for w in range(4) for i in range(60)}


def test_http_cache_takes_concurrent_writers(tmp_path, httpserver):
    for i in range(40):
        httpserver.expect_request(f"/item/{i}").respond_with_json({"item": i, "pad": "y" * 2000})
    urls = [httpserver.url_for(f"/item/{i}") for i in range(40)]
    code = ("import json, sys; from helpers.http import get_client; c = get_client(); print('ready', flush=True); "
            "urls = json.loads(sys.stdin.readline()); "
            "print(sum(c.get('openalex', u, parse=json.loads)['item'] for u in urls))")
    env = _env(tmp_path, WORKBENCH_OPENALEX_RATE="1000")
    procs = _start(code, env, 4)
    for k, p in enumerate(procs):  # overlapping slices: the same entries written by several processes
        p.stdin.write(json.dumps(urls[k * 8:k * 8 + 16]) + "\n")
        p.stdin.flush()
    outs = _finish(procs)
    assert [int(out.split()[-1]) for out, _ in outs] == [sum(range(k * 8, k * 8 + 16)) for k in range(4)]
    db = tmp_path / "http" / "responses.sqlite"
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    served = len(httpserver.log)
    offline = subprocess.run([sys.executable, "-c", code.replace("print('ready', flush=True); ", "")],
                             env={**env, "WORKBENCH_HTTP_CACHE": "offline"}, input=json.dumps(urls[:40]) + "\n",
                             capture_output=True, text=True, timeout=60)
    assert offline.returncode == 0, offline.stderr[-2000:]
    assert int(offline.stdout.split()[-1]) == sum(range(40)) and len(httpserver.log) == served  # all cached


@pytest.mark.parametrize("threads", ["1", "2"])
def test_ort_threads_reach_the_verifier_and_the_embedder(threads, monkeypatch):
    from helpers.retrieval.embed import Embedder
    from helpers.verification.crossencoder import CrossEncoder

    monkeypatch.setenv("WORKBENCH_ORT_THREADS", threads)
    sessions = CrossEncoder().sessions
    assert [s.get_session_options().intra_op_num_threads for s in sessions] == [int(threads)] * len(sessions)
    # the embedder runs that many batches at once, each on one thread of its one session (issue 21)
    emb = Embedder()
    assert emb.threads == int(threads) and emb.session.get_session_options().intra_op_num_threads == 1


def test_verifier_without_a_thread_setting_keeps_onnxruntimes_default(monkeypatch):
    from helpers.verification.crossencoder import CrossEncoder

    monkeypatch.delenv("WORKBENCH_ORT_THREADS", raising=False)
    assert CrossEncoder().sessions[0].get_session_options().intra_op_num_threads == 0
    assert CrossEncoder(threads=3).sessions[0].get_session_options().intra_op_num_threads == 3

