"""The embedder: one ONNX session per process, every core by default, batches by token count, and vectors that
do not depend on the batch they were computed in (what lets every path share one cache)."""

from __future__ import annotations

import numpy as np

from helpers.retrieval.embed import (
    Embedder,
    _session,
    _threads,
    available_cores,
    default_model_path,
    get_embedder,
)
from helpers.retrieval.store import open_corpus

TOKENS = 64


def test_a_vector_does_not_depend_on_its_batch_or_threads():
    texts = open_corpus("fixture", progress=False).texts()[:40]
    one = Embedder(max_length=TOKENS, threads=1)
    two = Embedder(max_length=TOKENS, threads=2)
    together = one.encode(texts)
    alone = np.stack([one.encode([t])[0] for t in texts[:6]])
    np.testing.assert_allclose(alone, together[:6], atol=1e-6)
    # padded beside a long text, in batches of another size, run on two threads: still the same vectors
    np.testing.assert_allclose(one.encode([texts[0], "x " * 300], batch_size=2)[0], together[0], atol=1e-6)
    np.testing.assert_allclose(two.encode(texts[::-1])[::-1], together, atol=1e-6)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_batches_group_texts_by_token_count():
    emb = Embedder(max_length=256, threads=2, batch_tokens=512)
    rng = np.random.default_rng(0)
    texts = [" ".join(["word"] * int(n)) for n in rng.integers(1, 250, size=120)]
    batches = emb.batches(texts)
    assert sorted(i for b in batches for i in b.index) == list(range(len(texts)))  # each text exactly once
    lengths = [len(emb.tokenizer.encode(t).ids) for t in texts]
    for b in batches:
        widths = [lengths[i] for i in b.index]
        assert b.ids.shape == (len(b.index), max(widths))  # padded to its own longest text only
        assert len(b.index) == 1 or b.ids.size <= 512  # the token budget
        assert b.mask.sum() == sum(widths)
    padded, real = sum(b.ids.size for b in batches), sum(lengths)
    # texts sorted by token count pad little: under 10% here, where batches of 32 in input order pad ~100%
    assert padded / real < 1.10
    fixed = sum(32 * max(lengths[s:s + 32]) if len(lengths[s:s + 32]) == 32 else
                len(lengths[s:s + 32]) * max(lengths[s:s + 32]) for s in range(0, len(texts), 32))
    assert fixed / real > 1.5
    # enough texts: at least one batch per thread, so both threads have work
    assert len(Embedder(max_length=TOKENS, threads=2).batches(texts[:10])) >= 2


def test_threads_default_to_every_core_and_one_session_per_process(monkeypatch):
    monkeypatch.delenv("WORKBENCH_ORT_THREADS", raising=False)
    assert _threads() == available_cores()
    monkeypatch.setenv("WORKBENCH_ORT_THREADS", "3")
    assert _threads() == 3 and Embedder(max_length=32).threads == 3
    assert get_embedder(64).session is get_embedder(256).session is _session(str(default_model_path()))
