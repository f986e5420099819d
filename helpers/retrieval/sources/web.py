"""What every online source shares: the paging loop, pooling across queries, fault capture, record ids.

An adapter subclasses `OnlineSource` and implements `fetch_page(query, cursor, size, year_range) -> Page`;
`search` runs every planned query through the pages, pools the hits (reciprocal-rank, as the local source
does) and turns any fault that survived the HTTP retries into status ``failed`` (nothing came back) or
``partial`` (some pages came back; those records are kept). It never raises for a source fault.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from ...errors import SourceError
from ...http import HttpClient, env_secret, get_client, redact, source_url
from ...records import Paper, normalise_arxiv, normalise_doi
from .base import SourceResult

log = logging.getLogger(__name__)

YearRange = tuple[int | None, int | None]
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(.+)$", re.I)


@dataclass
class Page:
    """One page of one query: its records, the total the source reports (if any) and the next cursor."""

    records: list[Paper] = field(default_factory=list)
    total: int | None = None
    next: Any = None  # None: no further page


def parse_json(body: bytes) -> Any:
    """JSON from bytes (UTF-8/16/32 detected); raises on truncated JSON or an HTML error page."""
    data = json.loads(body)
    if not isinstance(data, dict | list):
        raise ValueError("JSON body is not an object or array")
    return data


def make_ids(**ids: Any) -> dict[str, str]:
    """Normalised identifiers, empty ones dropped; an arXiv DOI (10.48550/arXiv.X) also yields ``arxiv``."""
    out: dict[str, str] = {}
    doi = normalise_doi(str(ids.pop("doi", "") or "")) if ids.get("doi") else None
    if doi:
        out["doi"] = doi
        m = _ARXIV_DOI.match(doi)
        if m and not ids.get("arxiv"):
            ids["arxiv"] = m.group(1)
    arxiv = normalise_arxiv(str(ids.pop("arxiv", "") or "")) if ids.get("arxiv") else None
    if arxiv:
        out["arxiv"] = arxiv
    for k, v in ids.items():
        if v not in (None, ""):
            out[k] = str(v).strip()
    return out


ID_ORDER = ("doi", "arxiv", "pmid", "openalex", "s2")


def paper_id(ids: dict[str, str]) -> str | None:
    """The stable workbench id: ``doi:`` preferred, else ``arxiv:``, ``pmid:``, ``openalex:``, ``s2:``."""
    for kind in ID_ORDER:
        if ids.get(kind):
            return f"{kind}:{ids[kind]}"
    return None


def polite_params(params: dict[str, Any], filters: list[str]) -> dict[str, Any]:
    """Add the comma-joined `filter` (when any) and, for the polite pool, `mailto` from WORKBENCH_CONTACT_EMAIL
    (Crossref and OpenAlex share this convention; the e-mail comes from the environment only)."""
    if filters:
        params["filter"] = ",".join(filters)
    email = env_secret("WORKBENCH_CONTACT_EMAIL")
    if email:
        params["mailto"] = email
    return params


def in_years(year: int | None, year_range: YearRange) -> bool:
    lo, hi = year_range
    if year is None:
        return True
    return (lo is None or year >= lo) and (hi is None or year <= hi)


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class OnlineSource:
    """Base of the online adapters. Subclasses set `name`, `default_url`, `page_size` and `fetch_page`."""

    name = "online"
    default_url = ""
    page_size = 100
    first_cursor: Any = 0

    def __init__(self, client: HttpClient | None = None) -> None:
        self._client = client

    @property
    def client(self) -> HttpClient:
        return self._client or get_client()

    @property
    def base_url(self) -> str:
        return source_url(self.name, self.default_url)

    def get(
        self, path: str, params: dict[str, Any], parse=parse_json, headers: dict[str, str] | None = None
    ) -> Any:
        return self.client.get(
            self.name, f"{self.base_url}{path}", params=params, parse=parse, headers=headers
        )

    def fetch_page(self, query: str, cursor: Any, size: int, year_range: YearRange) -> Page:
        raise NotImplementedError

    def search(
        self, question: str, queries: list[str], limit: int, year_range: YearRange = (None, None)
    ) -> SourceResult:
        queries = [q.strip() for q in queries if q and q.strip()] or [question.strip()]
        scores: dict[str, float] = {}
        papers: dict[str, Paper] = {}
        errors: list[str] = []
        pages_ok = 0
        expected = 0
        for query in queries:
            got, cursor, first = 0, self.first_cursor, True
            while got < limit and cursor is not None:
                try:
                    page = self.fetch_page(query, cursor, min(self.page_size, limit - got), year_range)
                except SourceError as exc:
                    errors.append(str(exc))
                    break
                except Exception as exc:  # a response we could not map: report, keep what we have
                    log.exception("%s: unexpected response", self.name)
                    errors.append(redact(f"{self.name}: unexpected response ({type(exc).__name__}: {exc})"))
                    break
                pages_ok += 1
                if first and page.total is not None:
                    expected = max(expected, min(page.total, limit))
                first = False
                for rank, paper in enumerate(page.records, start=got):
                    paper = paper.normalised()  # every online record's text, as it enters
                    if not in_years(paper.year, year_range):
                        continue
                    paper.source = self.name
                    paper.sources = [self.name]
                    scores[paper.id] = scores.get(paper.id, 0.0) + 1.0 / (60 + rank)
                    papers.setdefault(paper.id, paper)
                got += len(page.records)
                if not page.records:
                    break
                cursor = page.next
        ranked = sorted(scores, key=lambda k: -scores[k])[:limit]
        status = "ok" if not errors else ("partial" if pages_ok else "failed")
        error = None
        if errors:
            error = errors[0] + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
        return SourceResult(
            self.name,
            [papers[k] for k in ranked],
            status=status,
            error=error,
            queries=queries,
            requested=expected,
        )
