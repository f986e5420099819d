"""Searching several online sources at once, each in its own thread."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from ...http import redact
from .base import SourceResult
from .registry import get_source

log = logging.getLogger(__name__)


def search_all(
    specs: list[tuple[str, int]] | list[tuple[str, int, float | None]],
    question: str,
    queries: list[str],
    year_range: tuple[int | None, int | None] = (None, None),
    max_workers: int = 5,
) -> list[SourceResult]:
    """Search several sources at once (threads: one slow source does not hold up the others).

    `specs` are ``(name, limit)`` pairs, e.g. ``[(s.name, s.limit) for s in params.sources]``, or
    ``(name, limit, budget)`` with each source's time budget in seconds (None: ``WORKBENCH_SOURCE_BUDGET``, default
    60). Results come back in the order of `specs`; a source that raised anyway (a bug, an unknown name) becomes
    a ``failed`` result.
    """
    def one(spec: tuple) -> SourceResult:
        name, limit, budget = (*spec, None)[:3]
        try:
            return get_source(name).search(question, queries, limit, year_range, budget=budget)
        except Exception as exc:  # never let one source sink the run
            log.exception("source %s raised", name)
            return SourceResult(
                name,
                status="failed",
                error=redact(f"{name}: {type(exc).__name__}: {exc}"),
                queries=list(queries),
            )

    if not specs:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(specs)))) as pool:
        return list(pool.map(one, specs))
