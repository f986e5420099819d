"""Query construction: turn a long, compound research question into search queries.

- `main`: the question's topical words (plus any `extra_terms`);
- `facets`: one query per clause (split at "and", "vs", "without", "when", ...), each with >= 2 topical words;
- `expansion`: with a store, pseudo-relevance feedback terms (RM3-style: term weights from the top BM25 hits
  of the main query, weighted by each hit's normalised score and by idf), searched as one expanded query.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .text import content_words

if TYPE_CHECKING:
    from .store import CorpusStore, Hit

_FACET_SPLIT = re.compile(
    r"\b(?:and|versus|vs\.?|without|while|when|with|between|on|in terms of|compared to|whether)\b|[,;:?()]",
    re.I,
)

# Words that frame a question but say nothing about its topic.
QUESTION_FILLER = frozenset(
    "what how does do is are trade-off tradeoff effect effects impact improve improves degrade degrading "
    "applying integrating standard performance large".split()
)


@dataclass
class QueryPlan:
    """The queries run for one question, kept for the report's methods section."""

    question: str
    main: str
    facets: list[str] = field(default_factory=list)
    expansion: list[str] = field(default_factory=list)

    @property
    def expanded(self) -> str | None:
        """The main query plus its feedback terms (None without expansion)."""
        return " ".join([self.main, *self.expansion]) if self.expansion else None

    @property
    def queries(self) -> list[str]:
        return [self.main, *self.facets, *([self.expanded] if self.expanded else [])]

    def to_dict(self) -> dict:
        return {"question": self.question, "main": self.main, "facets": self.facets, "expansion": self.expansion}


def topical_words(text: str) -> list[str]:
    return [w for w in content_words(text) if w not in QUESTION_FILLER]


def facets(question: str) -> list[str]:
    """Clauses of the question with at least two topical words each."""
    out = []
    for part in _FACET_SPLIT.split(question):
        terms = topical_words(part)
        if len(terms) >= 2:
            out.append(" ".join(terms))
    return out


# Tokens of LaTeX markup and URLs that leak into arXiv abstracts; never useful as expansion terms.
MARKUP = frozenset("textbf textit texttt mathrm mathbf mathcal emph cite url http https www github com html".split())


@lru_cache(maxsize=8)
def _doc_freq(db_path: Path, name: str) -> tuple[Counter, int]:
    """Document frequency of every content word, cached in `<store>.df.json` (rebuilt with the store)."""
    import json

    from .atomic import write_text
    from .store import CorpusStore

    store = CorpusStore(db_path, name)
    key = store.meta().get("fingerprint", "")
    cache = db_path.with_name(f"{db_path.stem}.df.json")
    if cache.exists():
        data = json.loads(cache.read_text())
        if data.get("fingerprint") == key:
            return Counter(data["df"]), data["n"]
    df: Counter = Counter()
    texts = store.texts()
    for text in texts:
        df.update(set(content_words(text)))
    write_text(cache, json.dumps({"fingerprint": key, "n": len(texts), "df": df}))
    return df, len(texts)


def rm3_weights(docs: list[str], doc_scores: list[float], df: Counter, n_docs: int) -> Counter:
    """Relevance-model term weights: sum_d p(d|q) * tf(t,d)/|d|, times idf (pure; p(d|q) ~ normalised score)."""
    total = sum(doc_scores) or 1.0
    weights: Counter = Counter()
    for text, score in zip(docs, doc_scores, strict=True):
        words = content_words(text)
        if not words:
            continue
        for term, tf in Counter(words).items():
            weights[term] += (score / total) * tf / len(words)
    for term in weights:
        weights[term] *= math.log((n_docs + 1) / (df.get(term, 0) + 0.5))
    return weights


def feedback_terms(store: CorpusStore, hits: list[Hit], exclude: str, n_terms: int = 10,
                   max_df: float = 0.1) -> list[str]:
    """RM3-style expansion terms from feedback documents `hits` (terms of `exclude`, numbers, markup,
    rare (df < 3) and very common (df > max_df) terms left out)."""
    if not hits:
        return []
    df, n = _doc_freq(store.db_path, store.name)
    papers = {p.id: p for p in store.get([h.doc_id for h in hits])}
    kept = [h for h in hits if h.doc_id in papers]
    texts = [f"{papers[h.doc_id].title}. {papers[h.doc_id].abstract}" for h in kept]
    scores = [max(h.score, 1e-6) for h in kept]
    weights = rm3_weights(texts, scores, df, n)
    seen = set(content_words(exclude))
    out = []
    for term, _ in weights.most_common():
        if (term in seen or term in MARKUP or not any(c.isalpha() for c in term)
                or not 3 <= df.get(term, 0) <= max_df * n):
            continue
        out.append(term)
        if len(out) >= n_terms:
            break
    return out


def prf_terms(store: CorpusStore, query: str, n_docs: int = 5, n_terms: int = 10,
              max_df: float = 0.1, method: str = "bm25") -> list[str]:
    """Feedback terms for `query` from its top `n_docs` hits by `method`."""
    from .search import search

    return feedback_terms(store, search(store, query, k=n_docs, method=method), query, n_terms, max_df)


def build_query_plan(question: str, extra_terms: list[str] | None = None,
                     store: CorpusStore | None = None, n_expansion: int = 8) -> QueryPlan:
    """The main query (topical words of the whole question plus `extra_terms`), its facets, and, given a
    store, pseudo-relevance-feedback expansion terms."""
    terms = topical_words(question)
    main = " ".join(dict.fromkeys(terms + list(extra_terms or [])))
    expansion = prf_terms(store, main, n_terms=n_expansion) if store is not None and main else []
    return QueryPlan(question=question, main=main, facets=facets(question), expansion=expansion)
