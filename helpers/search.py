"""Search over a local corpus store: the one entry point the pipeline and `workbench eval` use.

`search(store, query, k, method)` returns `Hit`s best first. Methods are registered by name.
"""

from __future__ import annotations

from collections.abc import Callable

from .store import CorpusStore, Hit

SearchFn = Callable[..., list[Hit]]
METHODS: dict[str, SearchFn] = {}


def register(name: str) -> Callable[[SearchFn], SearchFn]:
    def deco(fn: SearchFn) -> SearchFn:
        METHODS[name] = fn
        return fn

    return deco


@register("bm25")
def bm25(store: CorpusStore, query: str, k: int = 100, **kw) -> list[Hit]:
    """FTS5 BM25 over title and abstract."""
    return store.search(query, k=k, year_range=kw.get("year_range"))


DEFAULT_METHOD = "bm25"


def search(store: CorpusStore, query: str, k: int = 100, method: str | None = None, **kw) -> list[Hit]:
    """Run the named retrieval method (default: the project's best measured method)."""
    name = method or DEFAULT_METHOD
    if name not in METHODS:
        raise ValueError(f"unknown retrieval method '{name}' (known: {', '.join(sorted(METHODS))})")
    return METHODS[name](store, query, k=k, **kw)
