"""The local corpus store as a source: runs every planned query and pools the hits.

Per question it runs each planned query with the retrieval method (default: hybrid BM25 + dense), one
query expanded with pseudo-relevance-feedback terms from the corpus, and the whole question as a dense
(semantic) query; the rankings are pooled with reciprocal rank fusion, so papers found by several facets rise.
"""

from __future__ import annotations

from ..query import prf_terms
from ..search import dense_index, rrf, search
from ..store import open_corpus
from . import register
from .base import SourceResult


class LocalSource:
    def __init__(self, corpus: str, method: str | None = None, expand: bool = True) -> None:
        self.corpus = corpus
        self.name = f"local:{corpus}"
        self.method = method
        self.expand = expand

    def search(self, question: str, queries: list[str], limit: int,
               year_range: tuple[int | None, int | None] = (None, None)) -> SourceResult:
        store = open_corpus(self.corpus)
        run = [q for q in queries if q.strip()]
        if self.expand and run:
            extra = prf_terms(store, run[0], n_terms=8)
            if extra:
                run.append(" ".join([run[0], *extra]))
        rankings = [search(store, q, k=limit, method=self.method, year_range=year_range) for q in run]
        if self.method != "bm25" and question.strip() and dense_index(store) is not None:
            run.append(question)
            rankings.append(search(store, question, k=limit, method="dense", year_range=year_range))
        pooled = rrf(rankings, k=60)
        papers = store.get([h.doc_id for h in pooled[:limit]])
        for p in papers:
            p.sources = [self.name]
        return SourceResult(self.name, papers, queries=run, requested=len(pooled))


@register("local")
def _factory(spec: str) -> LocalSource:
    return LocalSource(spec.split(":", 1)[1])
