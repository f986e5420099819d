"""The content-keyed vector cache of one store: what the full index build and on-demand scoring share.

Files under `<cache>/corpora/`, for `<base>` = `<name>.minilm-int8-t<max tokens>`:
- `<base>.emb.npy` / `.keys.npy`: the complete index, float32 (n_docs, 384) in the store's row order, and one key
  per row (blake2b of the embedded text);
- `<base>.partial-emb.npy` / `-keys.npy`: checkpoints of a full build in progress (a killed build resumes);
- `<base>.ondemand-emb.npy` / `-keys.npy`: vectors computed on demand for the documents a question needed.
Every vector is keyed by the digest of the text it was computed from (`text_key`), so whichever path computed a
document's vector first, no other path computes it again: a question reuses a running build's checkpoints, a
build skips what questions already embedded, and an unchanged document keeps its vector across store rebuilds.
Writes go through a temporary file and a rename, under one lock per `<base>` (`<base>.lock`), and a reader takes
the same lock, so it never pairs a new `emb` file with an old `keys` file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from filelock import FileLock

from .embed import DIM, Embedder, get_embedder
from .store import CorpusStore

PAIRS = (("emb", "keys"), ("partial-emb", "partial-keys"), ("ondemand-emb", "ondemand-keys"))


def text_key(text: str) -> bytes:
    """16-byte digest of the embedded text (trailing NULs stripped, as numpy's "S16" round trip does)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest().rstrip(b"\0")


def cache_paths(store: CorpusStore, max_length: int) -> dict[str, Path]:
    base = store.db_path.parent / f"{store.name}.minilm-int8-t{max_length}"
    paths = {k: Path(f"{base}.{k}.npy") for pair in PAIRS for k in pair}
    paths["lock"] = Path(f"{base}.lock")
    return paths


def save_array(path: Path, arr: np.ndarray) -> None:
    """np.save, atomically (temporary file in the same folder, then rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, arr)
    os.replace(tmp, path)


def load_pool(emb: Path, keys: Path) -> dict[bytes, np.ndarray]:
    """key -> vector from one pair of files ({} when missing or inconsistent)."""
    if not (emb.exists() and keys.exists()):
        return {}
    vecs, ks = np.load(emb), np.load(keys)
    if len(vecs) != len(ks) or (len(vecs) and vecs.shape[1] != DIM):
        return {}
    return {bytes(k): vecs[i] for i, k in enumerate(ks)}


def _stamp(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


class VectorCache:
    """Vectors by text digest for one store and truncation length, read from all three pairs of files."""

    def __init__(self, store: CorpusStore, max_length: int, embedder: Embedder | None = None) -> None:
        self.store, self.max_length = store, max_length
        self.paths = cache_paths(store, max_length)
        self.lock = FileLock(str(self.paths["lock"]))
        self.pool: dict[bytes, np.ndarray] = {}
        self._stamps: dict[str, int | None] = {}
        self._embedder = embedder
        self.embedded = 0  # vectors this object computed

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.max_length)
        return self._embedder

    def refresh(self) -> None:
        """Read every pair of files that changed since it was last read (another process may have written)."""
        for emb, keys in PAIRS:
            stamp = _stamp(self.paths[keys])
            if stamp is None or stamp == self._stamps.get(keys):
                continue
            with self.lock:
                stamp = _stamp(self.paths[keys])
                self.pool.update(load_pool(self.paths[emb], self.paths[keys]))
            self._stamps[keys] = stamp

    def __contains__(self, key: bytes) -> bool:
        return key in self.pool

    def missing(self, keys: list[bytes]) -> list[bytes]:
        """Keys with no vector in the pool after reading what other processes wrote (unique, in order)."""
        gone = [k for k in dict.fromkeys(keys) if k not in self.pool]
        if gone:
            self.refresh()
            gone = [k for k in gone if k not in self.pool]
        return gone

    def add(self, keys: list[bytes], vecs: np.ndarray) -> None:
        for k, v in zip(keys, vecs, strict=True):
            self.pool[k] = v

    def get(self, texts: list[str], on_batch: Callable[[int], None] | None = None) -> tuple[np.ndarray, int]:
        """Vectors of `texts` in order, embedding and persisting (on-demand files) those never computed before.
        Returns the vectors and how many texts were embedded now."""
        keys = [text_key(t) for t in texts]
        gone = set(self.missing(keys))
        if gone:
            todo = {k: t for k, t in zip(keys, texts, strict=True) if k in gone}
            vecs = self.embedder.encode(list(todo.values()), on_batch=on_batch)
            self.add(list(todo), vecs)
            self.persist(list(todo), vecs)
            self.embedded += len(todo)
        out = np.stack([self.pool[k] for k in keys]) if keys else np.zeros((0, DIM), np.float32)
        return out.astype(np.float32, copy=False), len(gone)

    def persist(self, keys: list[bytes], vecs: np.ndarray) -> None:
        """Add vectors to the on-demand files (merged with what other processes added meanwhile)."""
        emb, kfile = self.paths["ondemand-emb"], self.paths["ondemand-keys"]
        with self.lock:
            old = load_pool(emb, kfile)
            self.pool.update(old)  # what other processes computed meanwhile
            new = [(k, v) for k, v in zip(keys, vecs, strict=True) if k not in old]
            if not new:
                return
            all_keys = list(old) + [k for k, _ in new]
            all_vecs = np.stack(list(old.values()) + [v for _, v in new]).astype(np.float32)
            save_array(emb, all_vecs)
            save_array(kfile, np.array(all_keys, dtype="S16"))
            self._stamps["ondemand-keys"] = _stamp(kfile)

    def checkpoint(self) -> None:
        """Write the whole pool as a full build's checkpoint (`partial-*`)."""
        keys = list(self.pool)
        with self.lock:
            save_array(self.paths["partial-emb"], np.stack([self.pool[k] for k in keys]).astype(np.float32))
            save_array(self.paths["partial-keys"], np.array(keys, dtype="S16"))
            self._stamps["partial-keys"] = _stamp(self.paths["partial-keys"])

    def complete(self, keys: list[bytes]) -> np.ndarray:
        """Write the complete index for `keys` (the store's rows) and drop the checkpoints and on-demand files,
        which it now contains."""
        vectors = np.stack([self.pool[k] for k in keys]).astype(np.float32) if keys else np.zeros((0, DIM), np.float32)
        with self.lock:
            save_array(self.paths["emb"], vectors)
            save_array(self.paths["keys"], np.array(keys, dtype="S16"))
            for name in ("partial-emb", "partial-keys", "ondemand-emb", "ondemand-keys"):
                self.paths[name].unlink(missing_ok=True)
        return vectors
