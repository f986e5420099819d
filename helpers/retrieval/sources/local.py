"""The local corpus store as a source: runs every planned query and pools the hits.

Per question it runs each planned query with the retrieval method (default: hybrid BM25 + dense) and the
whole question as a dense (semantic) query, pools the rankings with reciprocal rank fusion (papers found by
several facets rise), then adds one query expanded with pseudo-relevance-feedback terms taken from the top 5
pooled papers (RM3-style) and pools again.
With embeddings available, the pooled candidates are then re-ordered by an equal-weight combination of the
pooled score and the candidate's cosine similarity to the whole question (both min-max normalised), so a paper
that matches one narrow facet strongly but not the question as a whole drops.
Where the corpus has no full embedding index, dense scores are computed on demand for the BM25 candidates of
the queries, and the whole-question query ranks the pool of those candidates; the result says so (`dense`).
Extra queries (the params' `extra_queries`, or the LLM plan's) widen the search: what they find beyond the
question's own records is added, ranked by all the queries' fusion, up to `EXTRA_SHARE` of the limit more. They never
displace a record the question's own queries found, so a plan cannot make the candidates less on topic by
crowding them out of the pool.
"""

from __future__ import annotations

from ..feedback import feedback_terms
from ..search import dense_index, minmax_fusion, rrf, search
from ..store import Hit, open_corpus
from .base import SourceResult

EXTRA_SHARE = 0.5  # extra queries add at most this share of the source's limit in records of their own


def dense_info(index, usage) -> dict:
    """What search.json records about the dense scores: their scope and, on demand, what they covered."""
    info = {"scope": "full index" if index.full else "BM25 candidates", "corpus_documents": index.n_docs,
            "max_tokens": index.max_length}
    if not index.full:
        info.update(scored=len(usage.scored), embedded_now=usage.embedded)
    return info


class LocalSource:
    def __init__(self, corpus: str, method: str | None = None, expand: bool = True,
                 question_weight: float = 0.5) -> None:
        self.corpus = corpus
        self.name = f"local:{corpus}"
        self.method = method
        self.expand = expand
        self.question_weight = question_weight

    def search(self, question: str, queries: list[str], limit: int,
               year_range: tuple[int | None, int | None] = (None, None), extra: list[str] = ()) -> SourceResult:
        """Search the corpus: `queries` pooled into at most `limit` records, then what the `extra` queries among
        them find beyond those, up to `EXTRA_SHARE` of the limit more."""
        store = open_corpus(self.corpus)
        index = dense_index(store, refresh=True) if self.method != "bm25" else None
        if index is None:
            return self._search(store, None, question, queries, limit, year_range, extra)
        with index.track() as usage:
            result = self._search(store, index, question, queries, limit, year_range, extra)
        result.dense = dense_info(index, usage)
        return result

    def _search(self, store, index, question: str, queries: list[str], limit: int,
                year_range: tuple[int | None, int | None], extra: list[str] = ()) -> SourceResult:
        extra = [q for q in extra if q.strip()]
        run = [q for q in queries if q.strip() and q not in extra]
        n_planned = len(run)
        rankings = [search(store, q, k=limit, method=self.method, year_range=year_range) for q in run]
        if index is not None and question.strip():
            # on demand, the question ranks the candidates found so far (a full index searches every document)
            pool = list(dict.fromkeys(h.doc_id for r in rankings for h in r))
            run.append(question)
            rankings.append(search(store, question, k=limit, method="dense", year_range=year_range, candidates=pool))
        pooled = rrf(rankings, k=60)
        if self.expand and run and pooled:
            # pseudo-relevance feedback from the top pooled papers (all facets agree), not one query's hits
            terms = feedback_terms(store, pooled[:5], exclude=" ".join(run), n_terms=8)
            if terms:
                run.insert(n_planned, " ".join([run[0], *terms]))
                rankings.append(search(store, run[n_planned], k=limit, method=self.method, year_range=year_range))
                pooled = rrf(rankings, k=60)
        found = len(pooled)
        if index is not None and question.strip() and self.question_weight > 0:
            cands = pooled[: max(limit, 100)]
            sims = index.similarity(question, [h.doc_id for h in cands])
            by_question = sorted((Hit(h.doc_id, s) for h, s in zip(cands, sims, strict=True)), key=lambda h: -h.score)
            pooled = minmax_fusion([cands, by_question], [1 - self.question_weight, self.question_weight])
        ids = [h.doc_id for h in pooled[:limit]]
        if extra:
            seen = set(ids)
            more = [search(store, q, k=limit, method=self.method, year_range=year_range) for q in extra]
            by_extra = {h.doc_id for r in more for h in r}
            # ranked by every query (a record the question's queries also found, lower down, rises)
            added = [h.doc_id for h in rrf(rankings + more, k=60) if h.doc_id in by_extra and h.doc_id not in seen]
            found += len(added)
            added = added[: int(limit * EXTRA_SHARE)]
            ids += added
            run += extra
        papers = store.get(ids)
        for p in papers:
            p.sources = [self.name]
        return SourceResult(self.name, papers, queries=run, requested=found, added=added if extra else [])
