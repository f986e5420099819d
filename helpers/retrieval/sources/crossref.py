"""Crossref works search (`GET /works?query=...`), offset-paged; JATS abstracts cleaned to text.

Endpoint: https://api.crossref.org/works (``WORKBENCH_CROSSREF_URL``). The contact e-mail
(``WORKBENCH_CONTACT_EMAIL``) goes in ``mailto`` for the polite pool; it is never part of a cache key.
Crossref has abstracts for only part of its records; those without keep an empty abstract.
"""

from __future__ import annotations

import re
from typing import Any

from ...records import Paper
from ...text import clean_text
from .web import OnlineSource, Page, YearRange, as_int, make_ids, paper_id, polite_params

SELECT = "DOI,title,abstract,author,issued,published-print,published-online,container-title,type,is-referenced-by-count,URL"
MAX_OFFSET = 10_000  # Crossref refuses deeper offsets (a cursor would be needed)
_JATS_TITLE = re.compile(r"^\s*<jats:title>\s*abstract\s*</jats:title>", re.I)


def _year(item: dict[str, Any]) -> int | None:
    for key in ("issued", "published-print", "published-online", "published", "created"):
        parts = (item.get(key) or {}).get("date-parts") or []
        if parts and parts[0] and parts[0][0]:
            return as_int(parts[0][0])
    return None


def _author(a: dict[str, Any]) -> str:
    if a.get("name"):
        return str(a["name"]).strip()
    return " ".join(str(x).strip() for x in (a.get("given"), a.get("family")) if x)


def item_to_paper(item: dict[str, Any]) -> Paper | None:
    """One Crossref work as a `Paper` (None without DOI or title)."""
    ids = make_ids(doi=item.get("DOI"))
    title = clean_text(" ".join(item.get("title") or []))
    if "doi" not in ids or not title:
        return None
    abstract = clean_text(_JATS_TITLE.sub("", item.get("abstract") or ""))
    venue = (item.get("container-title") or [None])[0]
    return Paper(
        id=paper_id(ids) or "",
        title=title,
        abstract=abstract,
        authors=[x for x in (_author(a) for a in item.get("author") or []) if x],
        year=_year(item),
        venue=venue,
        type=item.get("type"),
        url=item.get("URL"),
        ids=ids,
        citation_count=as_int(item.get("is-referenced-by-count")),
    )


class CrossrefSource(OnlineSource):
    name = "crossref"
    default_url = "https://api.crossref.org"
    page_size = 100  # Crossref allows up to 1000 rows

    def fetch_page(self, query: str, cursor: Any, size: int, year_range: YearRange) -> Page:
        params: dict[str, Any] = {"query": query, "rows": size, "offset": cursor, "select": SELECT}
        lo, hi = year_range
        filters = ([f"from-pub-date:{lo}"] if lo else []) + ([f"until-pub-date:{hi}"] if hi else [])
        data = self.get("/works", polite_params(params, filters))
        message = data.get("message") if isinstance(data, dict) else None
        if not isinstance(message, dict) or "items" not in message:
            raise ValueError("no 'message.items' in Crossref response")
        items = message["items"] or []
        total = as_int(message.get("total-results"))
        nxt = cursor + len(items)
        if not items or (total is not None and nxt >= total) or nxt >= MAX_OFFSET:
            nxt = None
        return Page([p for p in (item_to_paper(i) for i in items) if p], total, nxt)
