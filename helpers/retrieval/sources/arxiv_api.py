"""arXiv API search (`GET /api/query`, Atom feed), start/max_results paged.

Endpoint: https://export.arxiv.org/api/query (``WORKBENCH_ARXIV_URL`` replaces ``https://export.arxiv.org/api``).
arXiv asks for one request every three seconds; the shared rate limiter enforces that across processes.
The feed is parsed with the standard library (the `arxiv` package's client owns its own HTTP session, which
would bypass our cache, limiter and retries).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from ...records import Paper
from ...text import clean_text
from .web import OnlineSource, Page, YearRange, as_int, make_ids, paper_id

NS = {
    "a": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "os": "http://a9.com/-/spec/opensearch/1.1/",
}
_FIELD = re.compile(r"\b(all|ti|au|abs|co|jr|cat|rn|id|submittedDate):", re.I)
_WORD = re.compile(r'"[^"]+"|[^\s"()]+')
_BOOL = {"AND", "OR", "ANDNOT"}


def arxiv_query(query: str, year_range: YearRange = (None, None)) -> str:
    """A free-text query in arXiv's syntax: every word or quoted phrase ANDed over all fields.

    A query already written in arXiv syntax (``ti:...``, ``cat:...``) is passed through.
    """
    if _FIELD.search(query):
        q = query
    else:
        terms = [t for t in _WORD.findall(query) if t.upper() not in _BOOL]
        q = " AND ".join(f"all:{t}" for t in terms) or "all:*"
    lo, hi = year_range
    if lo or hi:
        q = f"({q}) AND submittedDate:[{lo or 1991}01010000 TO {hi or 2100}12312359]"
    return q


def _text(el: ET.Element | None) -> str:
    return clean_text(el.text if el is not None else "")


def parse_feed(body: bytes) -> Page:
    """An arXiv Atom feed as a `Page`; raises on a body that is not an Atom feed or an API error entry."""
    root = ET.fromstring(body)
    if root.tag != f"{{{NS['a']}}}feed":
        raise ValueError(f"not an Atom feed (root {root.tag})")
    records: list[Paper] = []
    entries = root.findall("a:entry", NS)
    for e in entries:
        entry_id = _text(e.find("a:id", NS))
        if "/api/errors" in entry_id:
            raise ValueError(f"arXiv API error: {_text(e.find('a:summary', NS))}")
        ids = make_ids(arxiv=entry_id, doi=_text(e.find("arxiv:doi", NS)) or None)
        # the entry's own arXiv id wins over one derived from a DOI
        ids["arxiv"] = make_ids(arxiv=entry_id).get("arxiv", ids.get("arxiv", ""))
        title = _text(e.find("a:title", NS))
        if not ids.get("arxiv") or not title:
            continue
        published = _text(e.find("a:published", NS))
        records.append(
            Paper(
                id=paper_id(ids) or "",
                title=title,
                abstract=_text(e.find("a:summary", NS)),
                authors=[_text(a.find("a:name", NS)) for a in e.findall("a:author", NS)],
                year=as_int(published[:4]),
                venue=_text(e.find("arxiv:journal_ref", NS)) or "arXiv",
                type="preprint",
                url=f"https://arxiv.org/abs/{ids['arxiv']}",
                ids=ids,
                categories=[c.get("term", "") for c in e.findall("a:category", NS) if c.get("term")],
            )
        )
    total = as_int(_text(root.find("os:totalResults", NS)))
    return Page(records, total, len(entries))  # `next` holds the entry count until fetch_page sets it


class ArxivSource(OnlineSource):
    name = "arxiv"
    default_url = "https://export.arxiv.org/api"
    page_size = 100

    def fetch_page(self, query: str, cursor: Any, size: int, year_range: YearRange) -> Page:
        params = {
            "search_query": arxiv_query(query, year_range),
            "start": cursor,
            "max_results": size,
            "sortBy": "relevance",
            "sortOrder": "descending",
        }
        page: Page = self.get("/query", params, parse=parse_feed)
        n = cursor + (page.next or 0)
        page.next = n if page.next and (page.total is None or n < page.total) else None
        return page
