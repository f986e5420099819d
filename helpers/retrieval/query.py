"""Query construction: turn a long, compound research question into search queries.

- `main`: the question's topical words (plus any `extra_terms`);
- `facets`: one query per clause (split at "and", "vs", "without", "when", ...), each with >= 2 topical words;
- `expansion`: with a store, pseudo-relevance feedback terms (`feedback.py`), searched as one expanded query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..text import query_key, topical_words, unique_queries
from .search import prf_terms
from .store import CorpusStore

_FACET_SPLIT = re.compile(
    r"\b(?:and|versus|vs\.?|without|while|when|with|between|on|in terms of|compared to|whether)\b|[,;:?()]",
    re.I,
)


@dataclass
class QueryPlan:
    """The queries run for one question, kept for the report's methods section."""

    question: str
    main: str
    facets: list[str] = field(default_factory=list)
    expansion: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # further queries (the params' or the LLM plan's): they widen

    @property
    def expanded(self) -> str | None:
        """The main query plus its feedback terms (None without expansion)."""
        return " ".join([self.main, *self.expansion]) if self.expansion else None

    @property
    def queries(self) -> list[str]:
        """Every query to run, each once: two that are equal normalised (`text.query_key`) run once."""
        return unique_queries([self.main, *self.facets, *([self.expanded] if self.expanded else []), *self.extra])

    def add(self, query: str | None, extra: bool = False) -> bool:
        """Add `query` as a further facet (or, with `extra`, as an extra query: one that adds records beyond what
        the question's own queries find, never displacing them) unless it is blank or already planned
        (normalised)."""
        if not query or not query_key(query) or query_key(query) in {query_key(q) for q in self.queries}:
            return False
        (self.extra if extra else self.facets).append(query.strip())
        return True

    def to_dict(self) -> dict:
        return {"question": self.question, "main": self.main, "facets": self.facets, "expansion": self.expansion,
                "extra": self.extra}


def facets(question: str) -> list[str]:
    """Clauses of the question with at least two topical words each."""
    out = []
    for part in _FACET_SPLIT.split(question):
        terms = topical_words(part)
        if len(terms) >= 2:
            out.append(" ".join(terms))
    return out


def build_query_plan(question: str, extra_terms: list[str] | None = None,
                     store: CorpusStore | None = None, n_expansion: int = 8) -> QueryPlan:
    """The main query (topical words of the whole question plus `extra_terms`), its facets, and, given a
    store, pseudo-relevance-feedback expansion terms. A facet equal to the main query or to an earlier facet
    (a one-clause question's only clause is the main query) is left out, so no query is planned twice."""
    terms = topical_words(question)
    main = " ".join(dict.fromkeys(terms + list(extra_terms or [])))
    expansion = prf_terms(store, main, n_terms=n_expansion) if store is not None and main else []
    kept = unique_queries([main, *facets(question)])
    return QueryPlan(question=question, main=main, facets=kept[1:] if main else kept, expansion=expansion)
