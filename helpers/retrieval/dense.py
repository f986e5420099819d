"""Dense (embedding) index over a CorpusStore: the full index, cached on disk next to the store.

The vectors live in the store's content-keyed cache (`vectors.py`: the complete index, a running build's
checkpoints and the vectors questions computed on demand). `DenseIndex.for_store` builds the complete index,
embedding only documents whose text has no cached vector, and resumes a killed build. `<tag>` in the file names
names the model and truncation length (e.g. `minilm-int8-t64`).

Search is an exact matrix product (75k x 384 float32 is ~30 ms), so no approximate index is needed. Without a
complete index, a large corpus is scored on demand instead (`ondemand.py`).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import config
from ..locks import build_lock
from .embed import Embedder, get_embedder
from .store import CorpusStore, Hit
from .vectors import PAIRS, VectorCache, cache_paths, text_key

CHUNK = 2048  # documents between checkpoints of a full build

__all__ = ["CHUNK", "DenseIndex", "Usage", "cache_paths", "text_key"]  # the last two re-exported


def default_max_length(name: str | None = None) -> int:
    """Tokens of "title. abstract" embedded per document of a newly embedded corpus: `WORKBENCH_EMBED_MAX_TOKENS`,
    else the corpus's own default (`config.EMBED_MAX_TOKENS`: arXiv 64), else 256."""
    value = os.environ.get("WORKBENCH_EMBED_MAX_TOKENS", "").strip()
    if value:
        return int(value)
    return config.EMBED_MAX_TOKENS.get(name or "", 256)


def _lengths(store: CorpusStore, kind: str) -> list[int]:
    found = sorted(store.db_path.parent.glob(f"{store.name}.minilm-int8-t*.{kind}.npy"))
    return [int(p.name[len(store.name) + len(".minilm-int8-t"):].split(".")[0]) for p in found]


def cached_max_length(store: CorpusStore) -> int | None:
    """The truncation length of a complete embedding cache for this store (the default one preferred)."""
    lengths = _lengths(store, "emb")
    if default_max_length(store.name) in lengths:
        return default_max_length(store.name)
    return lengths[0] if lengths else None


def embed_length(store: CorpusStore) -> int:
    """The truncation length to embed this store at: its complete cache's, else that of a build in progress or
    of earlier on-demand vectors (the default one preferred), else the corpus default."""
    found = cached_max_length(store)
    if found is not None:
        return found
    started = sorted({n for kind, _ in PAIRS[1:] for n in _lengths(store, kind)})
    default = default_max_length(store.name)
    return default if default in started or not started else started[0]


def has_complete_cache(store: CorpusStore) -> bool:
    """True when some complete embedding cache exists for this store (it may still lack changed docs)."""
    return cached_max_length(store) is not None


def row_years(store: CorpusStore) -> np.ndarray:
    """Publication year per row (0 where unknown), for filtering dense hits by a year range."""
    con = sqlite3.connect(f"file:{store.db_path}?mode=ro", uri=True)
    try:
        return np.array([y or 0 for (y,) in con.execute("SELECT year FROM docs ORDER BY n")], dtype=np.int32)
    finally:
        con.close()


def year_mask(years: np.ndarray, year_range: tuple[int | None, int | None] | None) -> np.ndarray | None:
    """Rows inside the range (unknown years kept, as the BM25 store does); None when there is no range."""
    if not year_range or year_range == (None, None):
        return None
    lo, hi = year_range
    ok = np.ones(len(years), dtype=bool)
    if lo is not None:
        ok &= (years == 0) | (years >= lo)
    if hi is not None:
        ok &= (years == 0) | (years <= hi)
    return ok


@dataclass
class Usage:
    """What dense scoring cost while it was tracked: documents scored and vectors embedded for them."""

    scored: set[str] = field(default_factory=set)
    embedded: int = 0


class _Tracked:
    """Shared by both index kinds: `track()` collects the documents scored inside a `with` block."""

    def _init_tracking(self) -> None:
        self._trackers: list[Usage] = []

    @contextmanager
    def track(self) -> Iterator[Usage]:
        usage = Usage()
        self._trackers.append(usage)
        try:
            yield usage
        finally:
            self._trackers.remove(usage)

    def _note(self, doc_ids: list[str], embedded: int = 0) -> None:
        for usage in self._trackers:
            usage.scored.update(doc_ids)
            usage.embedded += embedded

    def rank(self, query: str, doc_ids: list[str], k: int | None = None) -> list[Hit]:
        """`doc_ids` ordered by cosine similarity to `query` (ties keep the given order), the top `k`."""
        ids = list(dict.fromkeys(doc_ids))
        sims = self.similarity(query, ids)
        order = sorted(range(len(ids)), key=lambda i: -sims[i])
        return [Hit(ids[i], sims[i]) for i in order[: k if k is not None else len(ids)]]



def _complete_index(paths: dict[str, Path], keys: list[bytes]) -> np.ndarray | None:
    """The complete index's vectors when its keys match the store row for row, else None."""
    if paths["emb"].exists() and paths["keys"].exists():
        cached_keys = np.load(paths["keys"])
        if len(cached_keys) == len(keys) and np.array_equal(cached_keys, np.array(keys, dtype="S16")):
            return np.load(paths["emb"])
    return None

class DenseIndex(_Tracked):
    """Exact cosine-similarity search over the complete index of a store."""

    full = True

    def __init__(self, doc_ids: list[str], vectors: np.ndarray, embedder: Embedder | None = None,
                 max_length: int | None = None, keys: list[bytes] | None = None) -> None:
        self.doc_ids = doc_ids
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.max_length = max_length or default_max_length()
        self._embedder = embedder
        self._keys = keys
        self._init_tracking()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.max_length)
        return self._embedder

    @property
    def n_docs(self) -> int:
        return len(self.doc_ids)

    @classmethod
    def for_store(cls, store: CorpusStore, max_length: int | None = None, progress: bool = True,
                  embedder: Embedder | None = None) -> DenseIndex:
        """Load the store's complete index, embedding first only the documents whose text has no cached vector
        (complete index, checkpoints, or on-demand vectors; re-read between chunks, so vectors a question
        computes while this runs are not computed again)."""
        max_length = max_length or embed_length(store)
        paths = cache_paths(store, max_length)
        texts, doc_ids = store.texts(), store.doc_ids()
        keys = [text_key(t) for t in texts]
        vectors = _complete_index(paths, keys)
        if vectors is not None:  # fast path: the complete index matches row for row
            return cls(doc_ids, vectors, embedder, max_length, keys)
        # one process builds the complete index; the others wait here, then reuse it (double-checked)
        with build_lock(paths["emb"]):
            vectors = _complete_index(paths, keys)
            if vectors is not None:
                return cls(doc_ids, vectors, embedder, max_length, keys)
            return cls._build(store, max_length, texts, doc_ids, keys, progress, embedder)

    @classmethod
    def _build(cls, store: CorpusStore, max_length: int, texts: list[str], doc_ids: list[str], keys: list[bytes],
               progress: bool, embedder: Embedder | None) -> DenseIndex:
        """Embed what no cached vector holds (complete index, checkpoints, on-demand vectors), then write it."""
        cache = VectorCache(store, max_length, embedder)
        cache.refresh()
        first = {k: i for i, k in enumerate(keys) if k not in cache}
        missing = sorted(first.values(), key=lambda i: len(texts[i]))
        if missing:
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=len(missing), desc=f"embed {store.name}", unit=" docs", mininterval=2,
                           smoothing=0.05)
            for start in range(0, len(missing), CHUNK):
                chunk = missing[start:start + CHUNK]
                cache.refresh()  # what others (an on-demand question) computed since the last chunk
                todo = [i for i in chunk if keys[i] not in cache]
                if bar is not None and len(todo) < len(chunk):
                    bar.update(len(chunk) - len(todo))
                vecs = cache.embedder.encode([texts[i] for i in todo], on_batch=bar.update if bar else None)
                cache.add([keys[i] for i in todo], vecs)
                cache.embedded += len(todo)
                cache.checkpoint()
            if bar is not None:
                bar.close()
        vectors = cache.complete(keys)
        return cls(doc_ids, vectors, cache._embedder, max_length, keys)

    def search_vector(self, qvec: np.ndarray, k: int = 100, allowed: np.ndarray | None = None) -> list[Hit]:
        """Top-k documents by cosine similarity to a unit query vector (optionally a boolean row mask)."""
        scores = self.vectors @ qvec.astype(np.float32)
        if allowed is not None:
            scores = np.where(allowed, scores, -np.inf)
        k = min(k, len(scores))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [Hit(self.doc_ids[i], float(scores[i])) for i in top if np.isfinite(scores[i])]

    def _rows(self) -> dict[str, int]:
        if not hasattr(self, "_row"):
            self._row = {d: i for i, d in enumerate(self.doc_ids)}
        return self._row

    def similarity(self, query: str, doc_ids: list[str]) -> list[float]:
        """Cosine similarity of `query` to each of `doc_ids` (0.0 for ids not in the index)."""
        qvec = self.embedder.encode([query])[0]
        rows = [self._rows().get(d) for d in doc_ids]
        self._note([d for d, r in zip(doc_ids, rows) if r is not None])
        return [float(self.vectors[r] @ qvec) if r is not None else 0.0 for r in rows]

    def text_vectors(self, texts: list[str]) -> list[np.ndarray | None]:
        """The index's vector of each text (by content key), None for a text it does not hold."""
        if self._keys is None:
            return [None] * len(texts)
        if not hasattr(self, "_by_key"):
            self._by_key = {k: i for i, k in enumerate(self._keys)}
        rows = [self._by_key.get(text_key(t)) for t in texts]
        return [self.vectors[r] if r is not None else None for r in rows]

    def search(self, query: str, k: int = 100, allowed: np.ndarray | None = None) -> list[Hit]:
        hits = self.search_vector(self.embedder.encode([query])[0], k, allowed)
        self._note([h.doc_id for h in hits])
        return hits

