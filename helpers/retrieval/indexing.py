"""The full dense index of a corpus: its state, one builder at a time, and a build in the background.

`workbench corpus embed NAME` builds it (resumable; `DenseIndex.for_store`). Only one process builds a given
index at a time (`build_lock`); another one waits for it or, started in the background, leaves. A build in the
background runs at the lowest CPU priority, so a question asked meanwhile keeps the cores, and writes its
progress to `<cache>/corpora/<name>.embed.log`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from .dense import cached_max_length, embed_length
from .store import CorpusStore
from .vectors import cache_paths


def _keys(path: Path) -> set[bytes]:
    try:
        return {bytes(k) for k in np.load(path)}
    except (FileNotFoundError, ValueError, OSError):
        return set()


def _count(path: Path) -> int:
    try:
        return int(np.load(path, mmap_mode="r").shape[0])
    except (FileNotFoundError, ValueError, OSError):
        return 0


@dataclass
class IndexState:
    """How far a store's full dense index is: complete, being built, or only on-demand vectors so far."""

    name: str
    max_length: int
    n_docs: int
    complete: bool
    embedded: int  # distinct vectors cached so far (a build's checkpoint and on-demand ones together)
    on_demand: int  # of them, computed on demand for questions
    builder: int | None  # pid of the process building it, if any

    @property
    def missing(self) -> int:
        """Documents a full build would still embed (about: a cached vector may belong to an old text)."""
        return 0 if self.complete else max(0, self.n_docs - self.embedded)

    def describe(self) -> str:
        if self.complete:
            return f"full index ({self.n_docs:,} documents, {self.max_length} tokens)"
        done = f"{self.embedded:,} of {self.n_docs:,} embedded" + (
            f" ({self.on_demand:,} of them on demand)" if self.on_demand else "")
        if self.builder:
            return f"being built by pid {self.builder}: {done}"
        return f"no full index: {done}" if self.embedded else "no full index"


def build_lock(store: CorpusStore, max_length: int) -> FileLock:
    return FileLock(str(cache_paths(store, max_length)["lock"]) + ".build")


def _pid_file(store: CorpusStore, max_length: int) -> Path:
    return Path(str(cache_paths(store, max_length)["lock"]) + ".pid")


def builder_pid(store: CorpusStore, max_length: int) -> int | None:
    """The pid of the process that holds the build lock, or None when no build runs."""
    lock = build_lock(store, max_length)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        try:
            return int(_pid_file(store, max_length).read_text())
        except (FileNotFoundError, ValueError):
            return -1
    lock.release()
    return None


def state(store: CorpusStore) -> IndexState:
    length = embed_length(store)
    paths = cache_paths(store, length)
    on_demand = _keys(paths["ondemand-keys"])
    return IndexState(store.name, length, len(store), cached_max_length(store) == length and _complete(store, length),
                      len(_keys(paths["partial-keys"]) | on_demand), len(on_demand), builder_pid(store, length))


def _complete(store: CorpusStore, max_length: int) -> bool:
    return _count(cache_paths(store, max_length)["keys"]) == len(store)


def build(store: CorpusStore, max_length: int | None = None, wait: bool = True, progress: bool = True):
    """Build (or load) the full index, holding the build lock: None when another process builds it and `wait`
    is False."""
    from .dense import DenseIndex

    length = max_length or embed_length(store)
    lock = build_lock(store, length)
    try:
        lock.acquire(timeout=None if wait else 0)
    except Timeout:
        return None
    try:
        _pid_file(store, length).write_text(str(os.getpid()))
        return DenseIndex.for_store(store, max_length=length, progress=progress)
    finally:
        _pid_file(store, length).unlink(missing_ok=True)
        lock.release()


def lowest_priority() -> None:
    """Run this process at the lowest CPU priority: nice 19, and on Linux with autogroups (where a process in a
    session of its own competes as a group, whatever its nice value) the same for its group."""
    os.nice(19 - os.nice(0))
    try:
        Path("/proc/self/autogroup").write_text("19")
    except OSError:
        pass


def log_path(store: CorpusStore) -> Path:
    return store.db_path.parent / f"{store.name}.embed.log"


def start_background(store: CorpusStore, low_priority: bool = True) -> tuple[int | None, Path]:
    """Start `workbench corpus embed NAME` as a detached process, at the lowest priority unless told otherwise;
    (pid, log). The pid is None when a build of this index already runs (nothing is started)."""
    log = log_path(store)
    if builder_pid(store, embed_length(store)) is not None:
        return None, log
    cmd = [sys.executable, "-m", "helpers.cli", "corpus", "embed", store.name, "--no-wait"]
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd + (["--nice"] if low_priority else []),
                                stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return proc.pid, log
