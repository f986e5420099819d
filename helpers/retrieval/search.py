"""Search over a local corpus store: the one entry point the pipeline and `workbench eval` use.

`search(store, query, k, method)` returns `Hit`s best first. Methods are registered by name:
- `bm25`: SQLite FTS5 BM25 over title and abstract (title weighted `TITLE_WEIGHT`);
- `dense`: exact cosine search over cached all-MiniLM-L6-v2 (int8 ONNX) embeddings of "title. abstract";
- `hybrid` (default): convex combination of min-max normalised BM25 (title weight 3) and dense scores,
  each list taken to depth 200, dense weight 0.4;
- `hybrid-rrf`: weighted reciprocal rank fusion of the same two lists (k=10);
- `hybrid-prf`: `hybrid` with RM3-style pseudo-relevance feedback terms added to the BM25 query.
Settings were chosen on the tuning part (70%) of the BEIR-SciFact train queries; see
docs/benchmarks.md (Retrieval) for the validation part.
Where a large corpus has no full embedding index yet, dense scores are computed on demand (`ondemand.py`) for
the BM25 candidates of each query (`dense_scope="candidates"` forces that path, e.g. to measure it against the
full index: `workbench eval retrieval --on-demand`).
Fusion functions are pure and tested on hand-checked examples.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from .feedback import feedback_terms
from .store import CorpusStore, Hit

SearchFn = Callable[..., list[Hit]]
METHODS: dict[str, SearchFn] = {}

# Tuned on the tuning part of the BEIR-SciFact train queries (see docs/benchmarks.md (Retrieval)).
HYBRID_TITLE_WEIGHT = 3.0  # FTS5 bm25() column weight of the title inside hybrid (plain `bm25` keeps 1.0)
DENSE_ALPHA = 0.4  # weight of the dense list in the min-max convex combination
RRF_K = 10
DEPTH = 200
# On demand (no full index), a hybrid's dense list keeps the best-scoring 30% of the BM25 candidates: the rest
# would mostly be missing from a full index's top-DEPTH dense list, where they score 0 (tuning part: 50-80 of
# 200 all within 0.001 nDCG@10 of the full hybrid, 60 best; all 200: -0.011).
ONDEMAND_DENSE_SHARE = 0.3


def register(name: str) -> Callable[[SearchFn], SearchFn]:
    def deco(fn: SearchFn) -> SearchFn:
        METHODS[name] = fn
        return fn

    return deco


# -- fusion (pure) -----------------------------------------------------------------------------

def rrf(rankings: Sequence[Sequence[Hit]], k: int = 60, weights: Sequence[float] | None = None) -> list[Hit]:
    """Weighted reciprocal rank fusion: score(d) = sum_i w_i / (k + rank_i(d)), ranks from 1.

    Ties are broken by first appearance (earlier ranking, then higher rank), so the result is deterministic.
    """
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for w, ranking in zip(weights, rankings, strict=True):
        for rank, hit in enumerate(ranking, 1):
            scores[hit.doc_id] = scores.get(hit.doc_id, 0.0) + w / (k + rank)
    order = sorted(scores, key=lambda d: -scores[d])  # stable sort keeps first-appearance order on ties
    return [Hit(d, scores[d]) for d in order]


def minmax_fusion(rankings: Sequence[Sequence[Hit]], weights: Sequence[float]) -> list[Hit]:
    """Convex combination of min-max normalised scores (a document missing from a list gets 0 there)."""
    scores: dict[str, float] = {}
    for w, ranking in zip(weights, rankings, strict=True):
        if not ranking:
            continue
        vals = np.array([h.score for h in ranking], dtype=float)
        lo, span = vals.min(), float(np.ptp(vals))
        for hit in ranking:
            norm = (hit.score - lo) / span if span > 0 else 1.0
            scores[hit.doc_id] = scores.get(hit.doc_id, 0.0) + w * norm
    order = sorted(scores, key=lambda d: -scores[d])
    return [Hit(d, scores[d]) for d in order]


# -- per-store resources -----------------------------------------------------------------------

AUTO_EMBED_MAX = 20_000  # larger corpora without a full index are scored on demand (`ondemand.py`)
SCOPES = ("auto", "candidates")


def auto_embed_max() -> int:
    return int(os.environ.get("WORKBENCH_AUTO_EMBED_MAX", AUTO_EMBED_MAX))


def default_scope() -> str:
    """`WORKBENCH_DENSE_SCOPE`: `auto` (default) or `candidates` (on-demand scoring even where a full index exists,
    e.g. to measure it)."""
    scope = os.environ.get("WORKBENCH_DENSE_SCOPE", "auto").strip() or "auto"
    if scope not in SCOPES:
        raise ValueError(f"WORKBENCH_DENSE_SCOPE={scope!r}: expected one of {', '.join(SCOPES)}")
    return scope


_INDEXES: dict[tuple[Path, str, str], object] = {}  # one dense scorer per store and scope, per process


def _dense(db_path: Path, name: str, scope: str):
    from .dense import DenseIndex, embed_length, has_complete_cache
    from .ondemand import OnDemandIndex

    store = CorpusStore(db_path, name)
    if scope == "auto" and (has_complete_cache(store) or len(store) <= auto_embed_max()):
        return DenseIndex.for_store(store)
    if scope == "auto":
        warnings.warn(f"corpus '{name}' has no full embedding index: dense scores over the BM25 candidates only, "
                      f"embedded on demand (build the index with `workbench corpus embed {name}`)", stacklevel=4)
    return OnDemandIndex(store, embed_length(store))


@lru_cache(maxsize=8)
def _years(db_path: Path, name: str) -> np.ndarray:
    from .dense import row_years

    return row_years(CorpusStore(db_path, name))


def dense_index(store: CorpusStore, scope: str | None = None, refresh: bool = False):
    """The store's dense scorer, made once per process: the full `DenseIndex` where its cache is complete (or the
    corpus is small enough to embed now: `auto_embed_max`), else an `OnDemandIndex` over given candidates. With
    `refresh` (a new question starting), an on-demand scorer gives way to the full index if a build has completed
    it meanwhile, so a long-lived kernel uses it without a restart."""
    from .dense import has_complete_cache

    key = (store.db_path, store.name, scope or default_scope())
    index = _INDEXES.get(key)
    if index is None or (refresh and key[2] == "auto" and not index.full and has_complete_cache(store)):
        _INDEXES[key] = index = _dense(*key)
    return index


def loaded_dense_index(db_path: Path, name: str):
    """A store's dense scorer if this process already made one (None otherwise: nothing is built or loaded)."""
    return _INDEXES.get((Path(db_path), name, default_scope()))


def _dense_hits(store: CorpusStore, query: str, k: int, year_range, kw: dict) -> list[Hit]:
    """Dense hits: over the whole corpus with a full index; on demand, over `kw["candidates"]` (documents already
    inside the year range) or else over the query's own BM25 candidates."""
    from .dense import year_mask

    index = dense_index(store, kw.get("dense_scope"))
    if not index.full:
        cands = kw.get("candidates")
        if cands is None:
            cands = [h.doc_id for h in bm25(store, query, k=max(k, kw.get("depth", DEPTH)), year_range=year_range,
                                            title_weight=kw.get("title_weight", HYBRID_TITLE_WEIGHT))]
        return index.rank(query, list(cands), k)
    mask = year_mask(_years(store.db_path, store.name), year_range) if year_range else None
    return index.search(query, k=k, allowed=mask)


# -- methods -----------------------------------------------------------------------------------

@register("bm25")
def bm25(store: CorpusStore, query: str, k: int = 100, **kw) -> list[Hit]:
    """FTS5 BM25 over title and abstract (equal column weights unless `title_weight` is given)."""
    return store.search(query, k=k, weights=(kw.get("title_weight", 1.0), 1.0), year_range=kw.get("year_range"))


@register("dense")
def dense(store: CorpusStore, query: str, k: int = 100, **kw) -> list[Hit]:
    """Cosine similarity of MiniLM embeddings (exact, over the whole corpus; on demand, over candidates)."""
    return _dense_hits(store, query, k, kw.get("year_range"), kw)


def _lists(store: CorpusStore, lexical_query: str, query: str, k: int, kw: dict) -> tuple[list[Hit], list[Hit]]:
    depth = max(k, kw.get("depth", DEPTH))
    year_range = kw.get("year_range")
    lex = bm25(store, lexical_query, k=depth, title_weight=kw.get("title_weight", HYBRID_TITLE_WEIGHT),
               year_range=year_range)
    index = dense_index(store, kw.get("dense_scope"))
    if index.full:
        return lex, dense(store, query, k=depth, year_range=year_range)
    # on demand: the BM25 candidates ranked by cosine, the best ONDEMAND_DENSE_SHARE of them
    keep = max(1, round(ONDEMAND_DENSE_SHARE * depth))
    return lex, index.rank(query, [h.doc_id for h in lex], keep)


@register("hybrid")
def hybrid(store: CorpusStore, query: str, k: int = 100, **kw) -> list[Hit]:
    """Min-max normalised BM25 and dense scores, combined with weights (1 - alpha, alpha)."""
    return [hit for hit, _ in hybrid_scored(store, query, k, **kw)]


RETRIEVAL_FEATURES = ("dense cosine", "BM25", "hybrid score")


def hybrid_scored(store: CorpusStore, query: str, k: int = 100, **kw) -> list[tuple[Hit, list[float]]]:
    """`hybrid`'s hits, each with its raw scores (`RETRIEVAL_FEATURES`: dense cosine, BM25 with hybrid's title
    weight, the fused score; 0.0 where a list lacks the document): how well it matches in absolute terms, which
    the rank alone does not say. The verifier's ranked calibration reads them."""
    lex, den = _lists(store, query, query, k, kw)
    alpha = kw.get("alpha", DENSE_ALPHA)
    raw_lex, raw_den = {h.doc_id: h.score for h in lex}, {h.doc_id: h.score for h in den}
    return [(h, [float(raw_den.get(h.doc_id, 0.0)), float(raw_lex.get(h.doc_id, 0.0)), float(h.score)])
            for h in minmax_fusion([lex, den], [1 - alpha, alpha])[:k]]


@register("hybrid-rrf")
def hybrid_rrf(store: CorpusStore, query: str, k: int = 100, **kw) -> list[Hit]:
    """Reciprocal rank fusion of the BM25 and dense lists."""
    lex, den = _lists(store, query, query, k, kw)
    return rrf([lex, den], k=kw.get("rrf_k", RRF_K))[:k]


def prf_terms(store: CorpusStore, query: str, n_docs: int = 5, n_terms: int = 10,
              max_df: float = 0.1, method: str = "bm25") -> list[str]:
    """Feedback terms for `query` from its top `n_docs` hits by `method`."""
    return feedback_terms(store, search(store, query, k=n_docs, method=method), query, n_terms, max_df)


@register("hybrid-prf")
def hybrid_prf(store: CorpusStore, query: str, k: int = 100, **kw) -> list[Hit]:
    """`hybrid` whose BM25 query is expanded with feedback terms from the top BM25 hits (RM3-style)."""
    extra = prf_terms(store, query, n_docs=kw.get("prf_docs", 5), n_terms=kw.get("prf_terms", 10))
    lex, den = _lists(store, " ".join([query, *extra]), query, k, kw)
    alpha = kw.get("alpha", DENSE_ALPHA)
    return minmax_fusion([lex, den], [1 - alpha, alpha])[:k]


DEFAULT_METHOD = "hybrid"


def search(store: CorpusStore, query: str, k: int = 100, method: str | None = None, **kw) -> list[Hit]:
    """Run the named retrieval method (default: the project's best measured method)."""
    name = method or DEFAULT_METHOD
    if name not in METHODS:
        raise ValueError(f"unknown retrieval method '{name}' (known: {', '.join(sorted(METHODS))})")
    return METHODS[name](store, query, k=k, **kw)
