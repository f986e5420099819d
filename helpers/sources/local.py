"""The local corpus store as a source: runs every planned query and pools the hits."""

from __future__ import annotations

from ..search import search
from ..store import open_corpus
from . import register
from .base import SourceResult


class LocalSource:
    def __init__(self, corpus: str, method: str | None = None) -> None:
        self.corpus = corpus
        self.name = f"local:{corpus}"
        self.method = method

    def search(self, question: str, queries: list[str], limit: int,
               year_range: tuple[int | None, int | None] = (None, None)) -> SourceResult:
        store = open_corpus(self.corpus)
        scores: dict[str, float] = {}
        for q in queries:
            for rank, hit in enumerate(search(store, q, k=limit, method=self.method, year_range=year_range)):
                # reciprocal-rank pooling across queries: papers found by several facets rise
                scores[hit.doc_id] = scores.get(hit.doc_id, 0.0) + 1.0 / (60 + rank)
        ranked = sorted(scores, key=scores.get, reverse=True)[:limit]
        papers = store.get(ranked)
        for p in papers:
            p.sources = [self.name]
        return SourceResult(self.name, papers, queries=list(queries), requested=len(scores))


@register("local")
def _factory(spec: str) -> LocalSource:
    return LocalSource(spec.split(":", 1)[1])
