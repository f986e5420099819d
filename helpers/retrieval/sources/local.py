"""The local corpus store as a source: runs every planned query and pools the hits.

Per question it runs each planned query with the retrieval method (default: hybrid BM25 + dense) and the
whole question as a dense (semantic) query, pools the rankings with reciprocal rank fusion (papers found by
several facets rise), then adds one query expanded with pseudo-relevance-feedback terms taken from the top 5
pooled papers (RM3-style) and pools again.
With embeddings available, the pooled candidates are then re-ordered by an equal-weight combination of the
pooled score and the candidate's cosine similarity to the whole question (both min-max normalised), so a paper
that matches one narrow facet strongly but not the question as a whole drops.
"""

from __future__ import annotations

from ..feedback import feedback_terms
from ..search import dense_index, minmax_fusion, rrf, search
from ..store import Hit, open_corpus
from .base import SourceResult


class LocalSource:
    def __init__(self, corpus: str, method: str | None = None, expand: bool = True,
                 question_weight: float = 0.5) -> None:
        self.corpus = corpus
        self.name = f"local:{corpus}"
        self.method = method
        self.expand = expand
        self.question_weight = question_weight

    def search(self, question: str, queries: list[str], limit: int,
               year_range: tuple[int | None, int | None] = (None, None)) -> SourceResult:
        store = open_corpus(self.corpus)
        run = [q for q in queries if q.strip()]
        n_planned = len(run)
        rankings = [search(store, q, k=limit, method=self.method, year_range=year_range) for q in run]
        index = dense_index(store) if self.method != "bm25" and question.strip() else None
        if index is not None:
            run.append(question)
            rankings.append(search(store, question, k=limit, method="dense", year_range=year_range))
        pooled = rrf(rankings, k=60)
        if self.expand and run and pooled:
            # pseudo-relevance feedback from the top pooled papers (all facets agree), not one query's hits
            extra = feedback_terms(store, pooled[:5], exclude=" ".join(run), n_terms=8)
            if extra:
                run.insert(n_planned, " ".join([run[0], *extra]))
                rankings.append(search(store, run[n_planned], k=limit, method=self.method, year_range=year_range))
                pooled = rrf(rankings, k=60)
        found = len(pooled)
        if index is not None and self.question_weight > 0:
            cands = pooled[: max(limit, 100)]
            sims = index.similarity(question, [h.doc_id for h in cands])
            by_question = sorted((Hit(h.doc_id, s) for h, s in zip(cands, sims, strict=True)), key=lambda h: -h.score)
            pooled = minmax_fusion([cands, by_question], [1 - self.question_weight, self.question_weight])
        papers = store.get([h.doc_id for h in pooled[:limit]])
        for p in papers:
            p.sources = [self.name]
        return SourceResult(self.name, papers, queries=run, requested=found)
