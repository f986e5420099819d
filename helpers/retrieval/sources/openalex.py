"""OpenAlex works search (`GET /works?search=...`), cursor-paged; abstracts rebuilt from the inverted index.

Endpoint: https://api.openalex.org/works (``WORKBENCH_OPENALEX_URL``). The contact e-mail
(``WORKBENCH_CONTACT_EMAIL``) goes in ``mailto`` for the polite pool; it is never part of a cache key.
"""

from __future__ import annotations

import re
from typing import Any

from pyalex.api import invert_abstract

from ...records import Paper
from .web import OnlineSource, Page, YearRange, as_int, make_ids, paper_id, polite_params

SELECT = (
    "id,doi,ids,title,display_name,publication_year,type,authorships,primary_location,"
    "cited_by_count,abstract_inverted_index"
)


def openalex_abstract(inv_index: dict[str, list[int]] | None) -> str:
    """The abstract text rebuilt from OpenAlex's `abstract_inverted_index` (word -> positions)."""
    if not inv_index:
        return ""
    text = invert_abstract(inv_index) or ""
    return re.sub(r"^Abstract\s+(?=[A-Z])", "", text)  # publishers' "Abstract" heading, indexed as a word


def _short(openalex_url: str | None) -> str | None:
    return openalex_url.rsplit("/", 1)[-1] if openalex_url else None


def work_to_paper(w: dict[str, Any]) -> Paper | None:
    """One OpenAlex work as a `Paper` (None if it has neither title nor id)."""
    ext = w.get("ids") or {}
    ids = make_ids(
        doi=w.get("doi") or ext.get("doi"),
        pmid=_short(ext.get("pmid")),
        openalex=_short(w.get("id") or ext.get("openalex")),
    )
    pid = paper_id(ids)
    title = (w.get("title") or w.get("display_name") or "").strip()
    if not pid or not title:
        return None
    loc = w.get("primary_location") or {}
    venue = ((loc.get("source") or {}).get("display_name")) or None
    authors = [
        ((a.get("author") or {}).get("display_name") or "").strip() for a in w.get("authorships") or []
    ]
    url = loc.get("landing_page_url") or w.get("doi") or w.get("id")
    return Paper(
        id=pid,
        title=title,
        abstract=openalex_abstract(w.get("abstract_inverted_index")),
        authors=[a for a in authors if a],
        year=as_int(w.get("publication_year")),
        venue=venue,
        type=w.get("type"),
        url=url,
        ids=ids,
        citation_count=as_int(w.get("cited_by_count")),
    )


class OpenAlexSource(OnlineSource):
    name = "openalex"
    default_url = "https://api.openalex.org"
    page_size = 100  # OpenAlex allows up to 200 per page
    first_cursor = "*"

    def fetch_page(self, query: str, cursor: Any, size: int, year_range: YearRange) -> Page:
        params: dict[str, Any] = {"search": query, "per-page": size, "cursor": cursor, "select": SELECT}
        lo, hi = year_range
        filters = ([f"from_publication_date:{lo}-01-01"] if lo else []) + (
            [f"to_publication_date:{hi}-12-31"] if hi else []
        )
        data = self.get("/works", polite_params(params, filters))
        if not isinstance(data, dict) or "results" not in data:
            raise ValueError("no 'results' in OpenAlex response")
        meta = data.get("meta") or {}
        records = [p for p in (work_to_paper(w) for w in data["results"] or []) if p]
        nxt = meta.get("next_cursor") if data["results"] else None
        return Page(records, as_int(meta.get("count")), nxt)
