"""Cross-process locks for shared files that one process builds and many read (corpus stores, embedding
caches, the corpus registry, an output folder being swapped in).

The pattern is double-checked: a reader first looks for a finished file (written atomically, so it is never
seen half-done) without any lock; only when it must build does it take the lock, look again (another process
may have just built it), and build if it still has to. Every other builder meanwhile waits on the lock and
then reuses what the first one wrote. The locks are `filelock.FileLock` (`fcntl.flock` on POSIX): released by
the kernel when the holder dies, so a killed builder never leaves a stale lock.
"""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock


def lock_path(path: str | Path) -> Path:
    """The lock file guarding `path`: `.<name>.lock` beside it."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


def build_lock(path: str | Path, timeout: float = -1) -> FileLock:
    """An exclusive, cross-process lock for building `path` (blocks until free; `timeout` s, -1: forever)."""
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(lock), timeout=timeout)
