"""Query construction: turn a long, compound research question into search queries.

Baseline version: one query of the question's content words plus one per facet (clauses split at
"and", "vs", "without", "when", ...). The retrieval work (issue 3) extends it with corpus-based expansion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .text import content_words

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
    def queries(self) -> list[str]:
        return [self.main, *self.facets]

    def to_dict(self) -> dict:
        return {"question": self.question, "main": self.main, "facets": self.facets, "expansion": self.expansion}


def facets(question: str) -> list[str]:
    """Clauses of the question with at least two topical words each."""
    out = []
    for part in _FACET_SPLIT.split(question):
        terms = [w for w in content_words(part) if w not in QUESTION_FILLER]
        if len(terms) >= 2:
            out.append(" ".join(terms))
    return out


def build_query_plan(question: str, extra_terms: list[str] | None = None) -> QueryPlan:
    """The main query (topical words of the whole question plus `extra_terms`) and its facets."""
    terms = [w for w in content_words(question) if w not in QUESTION_FILLER]
    main = " ".join(dict.fromkeys(terms + list(extra_terms or [])))
    return QueryPlan(question=question, main=main, facets=facets(question))
