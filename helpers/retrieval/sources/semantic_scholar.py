"""Semantic Scholar relevance search (`GET /graph/v1/paper/search`), offset-paged.

Endpoint: https://api.semanticscholar.org/graph/v1 (``WORKBENCH_SEMANTIC_SCHOLAR_URL``). An API key
(``WORKBENCH_S2_API_KEY``) is sent as the ``x-api-key`` header, never as a parameter or cache key.
The relevance search serves at most the first 1,000 hits of a query.
"""

from __future__ import annotations

from typing import Any

from ...http import env_secret
from ...records import Paper
from ...text import clean_text
from .web import OnlineSource, Page, YearRange, as_int, make_ids, paper_id

FIELDS = "paperId,externalIds,url,title,abstract,venue,year,citationCount,publicationTypes,authors,journal"
MAX_HITS = 1000


def s2_to_paper(d: dict[str, Any]) -> Paper | None:
    """One S2 paper object as a `Paper` (None without id or title)."""
    ext = d.get("externalIds") or {}
    ids = make_ids(doi=ext.get("DOI"), arxiv=ext.get("ArXiv"), pmid=ext.get("PubMed"), s2=d.get("paperId"))
    title = clean_text(d.get("title"))
    pid = paper_id(ids)
    if not pid or not title:
        return None
    venue = d.get("venue") or (d.get("journal") or {}).get("name") or None
    types = d.get("publicationTypes") or []
    return Paper(
        id=pid,
        title=title,
        abstract=clean_text(d.get("abstract")),
        authors=[a.get("name", "").strip() for a in d.get("authors") or [] if a.get("name")],
        year=as_int(d.get("year")),
        venue=venue,
        type=types[0] if types else None,
        url=d.get("url"),
        ids=ids,
        citation_count=as_int(d.get("citationCount")),
    )


class SemanticScholarSource(OnlineSource):
    name = "semantic_scholar"
    default_url = "https://api.semanticscholar.org/graph/v1"
    page_size = 100  # the API's maximum

    def fetch_page(self, query: str, cursor: Any, size: int, year_range: YearRange) -> Page:
        size = min(size, MAX_HITS - cursor)
        if size <= 0:
            return Page([], None, None)
        params: dict[str, Any] = {"query": query, "offset": cursor, "limit": size, "fields": FIELDS}
        lo, hi = year_range
        if lo or hi:
            params["year"] = f"{lo or ''}-{hi or ''}"
        key = env_secret("WORKBENCH_S2_API_KEY")
        data = self.get("/paper/search", params, headers={"x-api-key": key} if key else None)
        if not isinstance(data, dict) or not ("data" in data or "total" in data):
            raise ValueError("no 'data' in Semantic Scholar response")
        items = data.get("data") or []
        nxt = as_int(data.get("next"))
        if not items or nxt is None or nxt >= MAX_HITS:
            nxt = None
        return Page([p for p in (s2_to_paper(d) for d in items) if p], as_int(data.get("total")), nxt)
