"""Dense (embedding) index over a CorpusStore, cached on disk next to the store.

Files under `<cache>/corpora/`:
- `<name>.<tag>.emb.npy`  float32 (n_docs, 384), L2-normalised, in the store's row order;
- `<name>.<tag>.keys.npy` per-document key (blake2b of the embedded text): a document whose text is unchanged
  is never embedded again, even after the store is rebuilt with other documents added or removed;
- `<name>.<tag>.partial.*` checkpoints written while a long build runs (a killed build resumes);
- `.<name>.<tag>.emb.npy.lock`: one process builds a cache at a time; the others wait, then reuse it.
`<tag>` names the model and truncation length (e.g. `minilm-int8-t128`).

Search is an exact matrix product (75k x 384 float32 is ~30 ms), so no approximate index is needed.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import numpy as np

from ..locks import build_lock
from .embed import DIM, Embedder, get_embedder
from .store import CorpusStore, Hit

CHUNK = 2048


def default_max_length() -> int:
    """Tokens of "title. abstract" embedded per document (`WORKBENCH_EMBED_MAX_TOKENS`, default 256)."""
    return int(os.environ.get("WORKBENCH_EMBED_MAX_TOKENS", "256"))


def text_key(text: str) -> bytes:
    """16-byte digest of the embedded text (trailing NULs stripped, as numpy's "S16" round trip does)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest().rstrip(b"\0")


def _save(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, arr)
    os.replace(tmp, path)


def _load_pool(emb: Path, keys: Path) -> dict[bytes, np.ndarray]:
    if not (emb.exists() and keys.exists()):
        return {}
    vecs, ks = np.load(emb), np.load(keys)
    if len(vecs) != len(ks) or (len(vecs) and vecs.shape[1] != DIM):
        return {}
    return {bytes(k): vecs[i] for i, k in enumerate(ks)}


def _cached_vectors(paths: dict[str, Path], keys: list[bytes]) -> np.ndarray | None:
    """The cached vectors when the cache's keys match `keys` row for row, else None (call under the lock)."""
    if not (paths["emb"].exists() and paths["keys"].exists()):
        return None
    cached_keys = np.load(paths["keys"])
    if len(cached_keys) != len(keys) or not np.array_equal(cached_keys, np.array(keys, dtype="S16")):
        return None
    vectors = np.load(paths["emb"])
    return vectors if len(vectors) == len(keys) else None


def cached_max_length(store: CorpusStore) -> int | None:
    """The truncation length of a complete embedding cache for this store (the default one preferred)."""
    found = sorted(store.db_path.parent.glob(f"{store.name}.minilm-int8-t*.emb.npy"))
    lengths = [int(p.name.rsplit("-t", 1)[1].split(".")[0]) for p in found]
    if default_max_length() in lengths:
        return default_max_length()
    return lengths[0] if lengths else None


def cache_paths(store: CorpusStore, max_length: int) -> dict[str, Path]:
    base = store.db_path.parent / f"{store.name}.minilm-int8-t{max_length}"
    return {k: Path(f"{base}.{k}.npy") for k in ("emb", "keys", "partial-emb", "partial-keys")}


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


class DenseIndex:
    """Exact cosine-similarity search over cached document embeddings."""

    def __init__(self, doc_ids: list[str], vectors: np.ndarray, embedder: Embedder | None = None,
                 max_length: int | None = None) -> None:
        self.doc_ids = doc_ids
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.max_length = max_length or default_max_length()
        self._embedder = embedder

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.max_length)
        return self._embedder

    @classmethod
    def for_store(cls, store: CorpusStore, max_length: int | None = None, progress: bool = True,
                  embedder: Embedder | None = None) -> DenseIndex:
        """Load the store's embeddings, embedding only documents whose text has no cached vector."""
        max_length = max_length or cached_max_length(store) or default_max_length()
        paths = cache_paths(store, max_length)
        texts, doc_ids = store.texts(), store.doc_ids()
        keys = [text_key(t) for t in texts]
        # under one lock per cache: a reader never pairs one writer's keys with another's vectors, and while
        # one process embeds, the others wait here and then reuse its files
        with build_lock(paths["emb"]):
            vectors = _cached_vectors(paths, keys)  # the cache matches row for row
            if vectors is None:
                vectors = cls._build(store, paths, texts, keys, max_length, progress, embedder)
        return cls(doc_ids, vectors, embedder, max_length)

    @staticmethod
    def _build(store: CorpusStore, paths: dict[str, Path], texts: list[str], keys: list[bytes], max_length: int,
               progress: bool, embedder: Embedder | None) -> np.ndarray:
        """Embed what no cache file holds (resuming from the partial checkpoints), then write the cache."""
        pool = _load_pool(paths["emb"], paths["keys"])
        pool.update(_load_pool(paths["partial-emb"], paths["partial-keys"]))
        missing = sorted({k: i for i, k in enumerate(keys) if k not in pool}.values(), key=lambda i: len(texts[i]))
        if missing:
            emb = embedder or get_embedder(max_length)
            done_keys = list(pool)
            done_vecs = [pool[k] for k in done_keys]
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=len(missing), desc=f"embed {store.name}", unit=" docs", mininterval=5)
            for start in range(0, len(missing), CHUNK):
                chunk = missing[start:start + CHUNK]
                vecs = emb.encode([texts[i] for i in chunk])
                for i, v in zip(chunk, vecs, strict=True):
                    pool[keys[i]] = v
                    done_keys.append(keys[i])
                    done_vecs.append(v)
                _save(paths["partial-emb"], np.stack(done_vecs))
                _save(paths["partial-keys"], np.array(done_keys, dtype="S16"))
                if bar is not None:
                    bar.update(len(chunk))
            if bar is not None:
                bar.close()
        vectors = np.stack([pool[k] for k in keys]) if keys else np.zeros((0, DIM), np.float32)
        _save(paths["emb"], vectors.astype(np.float32))
        _save(paths["keys"], np.array(keys, dtype="S16"))
        for k in ("partial-emb", "partial-keys"):
            paths[k].unlink(missing_ok=True)
        return vectors

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

    def similarity(self, query: str, doc_ids: list[str]) -> list[float]:
        """Cosine similarity of `query` to each of `doc_ids` (0.0 for ids not in the index)."""
        if not hasattr(self, "_row"):
            self._row = {d: i for i, d in enumerate(self.doc_ids)}
        qvec = self.embedder.encode([query])[0]
        rows = [self._row.get(d) for d in doc_ids]
        return [float(self.vectors[r] @ qvec) if r is not None else 0.0 for r in rows]

    def search(self, query: str, k: int = 100, allowed: np.ndarray | None = None) -> list[Hit]:
        return self.search_vector(self.embedder.encode([query])[0], k, allowed)
