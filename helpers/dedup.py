"""De-duplicate records pooled from several sources (identifier match, then normalised title + year)."""

from __future__ import annotations

import re

from .records import Paper
from .sources.base import SourceResult


def _title_key(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", (title or "").lower())


def merge_results(results: list[SourceResult]) -> tuple[list[Paper], dict]:
    """Pool every source's records into unique papers; returns (papers, PRISMA identification stats)."""
    by_key: dict[str, Paper] = {}
    papers: list[Paper] = []
    per_source: dict[str, int] = {}
    duplicates = 0
    for result in results:
        per_source[result.source] = len(result.records)
        for rec in result.records:
            keys = [f"{k}:{v}" for k, v in rec.ids.items() if v] + [f"title:{_title_key(rec.title)}:{rec.year}"]
            existing = next((by_key[k] for k in keys if k in by_key), None)
            if existing is None:
                rec.sources = list(dict.fromkeys(rec.sources or [result.source]))
                papers.append(rec)
                existing = rec
            else:
                duplicates += 1
                for k, v in rec.ids.items():
                    existing.ids.setdefault(k, v)
                existing.sources = list(dict.fromkeys([*existing.sources, result.source]))
                if not existing.abstract and rec.abstract:
                    existing.abstract = rec.abstract
            for k in keys:
                by_key.setdefault(k, existing)
    stats = {
        "identified_per_source": per_source,
        "identified": sum(per_source.values()),
        "duplicates_removed": duplicates,
        "failed_sources": {r.source: r.error for r in results if r.status == "failed"},
        "partial_sources": {r.source: r.error for r in results if r.status == "partial"},
    }
    return papers, stats
