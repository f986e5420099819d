"""What every online source shares: the paging loop, pooling across queries, fault capture, record ids.

An adapter subclasses `OnlineSource` and implements `fetch_page(query, cursor, size, year_range) -> Page`;
`search` runs every planned query through the pages, pools the hits (reciprocal-rank, as the local source
does) and turns any fault that survived the HTTP retries into status ``failed`` (nothing came back) or
``partial`` (some pages came back; those records are kept). It never raises for a source fault.

A dead source costs one query's retries, not every query's: once a query has used all its retries on
timeouts, connection errors or 408/5xx (the host is not answering), the search's circuit opens and the
later queries are not sent. A 429 does not open it (the source is slowing us down, not gone). And the whole
search has a time budget (`WORKBENCH_SOURCE_BUDGET`, the params' `source_budget`; default 60 s): no request,
retry sleep, timeout or rate-limit wait runs past it; when it is spent the source stops with what it has.
Either way the result says why (`stopped`) and how many planned queries were never sent (`skipped_queries`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from ...errors import SourceError
from ...http import HttpClient, env_secret, get_client, redact, source_url
from ...records import Paper, normalise_arxiv, normalise_doi
from ...text import unique_queries
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
        self._deadline: float | None = None  # the running search's time budget (monotonic), if any

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
            self.name, f"{self.base_url}{path}", params=params, parse=parse, headers=headers, deadline=self._deadline
        )

    def fetch_page(self, query: str, cursor: Any, size: int, year_range: YearRange) -> Page:
        raise NotImplementedError

    def search(
        self,
        question: str,
        queries: list[str],
        limit: int,
        year_range: YearRange = (None, None),
        budget: float | None = None,
    ) -> SourceResult:
        """Run each query (once: repeats compared normalised) through its pages and pool the hits.

        `budget`: seconds the whole search may take (None: the client's ``WORKBENCH_SOURCE_BUDGET``; 0: none).
        """
        queries = unique_queries(queries) or [question.strip()]
        if budget is None:
            budget = self.client.settings.source_budget
        self._deadline = time.monotonic() + budget if budget else None
        try:
            return self._search(queries, limit, year_range, budget or None)
        finally:
            self._deadline = None

    def _out_of_time(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _search(self, queries: list[str], limit: int, year_range: YearRange, budget: float | None) -> SourceResult:
        scores: dict[str, float] = {}
        papers: dict[str, Paper] = {}
        errors: list[str] = []
        pages_ok = 0
        expected = 0
        started = 0  # queries whose first page was asked for
        stopped: str | None = None
        for query in queries:
            if stopped or self._out_of_time():
                stopped = stopped or "time budget"
                break
            started += 1
            got, cursor, first = 0, self.first_cursor, True
            while got < limit and cursor is not None:
                if self._out_of_time():
                    stopped = "time budget"
                    break
                try:
                    page = self.fetch_page(query, cursor, min(self.page_size, limit - got), year_range)
                except SourceError as exc:
                    if exc.out_of_time:
                        stopped = "time budget"
                        if exc.attempts:  # a fault the budget cut short; else only the waiting was cut
                            errors.append(str(exc))
                        elif first:  # nothing of this query was fetched or sent: it counts as skipped
                            started -= 1
                    else:
                        errors.append(str(exc))
                        if exc.kind == "down":  # the retries were spent on a host that is not answering
                            stopped = "not answering"
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
        status = "ok" if not (errors or stopped) else ("partial" if pages_ok else "failed")
        skipped = len(queries) - started
        error = None
        if errors:
            error = errors[0] + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
        if stopped == "time budget":
            error = (f"{error}; " if error else f"{self.name}: ") + f"time budget of {budget:g} s spent"
        elif stopped:
            error += "; not answering"
        if stopped and skipped:
            error += f", so {skipped} of {len(queries)} {'query was' if skipped == 1 else 'queries were'} skipped"
        return SourceResult(
            self.name,
            [papers[k] for k in ranked],
            status=status,
            error=error,
            queries=queries,
            requested=expected,
            stopped=stopped,
            skipped_queries=skipped,
        )
