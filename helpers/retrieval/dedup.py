"""Cross-source de-duplication with the counts a PRISMA flow diagram needs. Pure: no IO.

`merge_results(results)` pools every source's records and merges those that are the same work:

1. records sharing an identifier (DOI, arXiv id, PMID, OpenAlex id, S2 id) are one work — this is what joins a
   preprint to its published version when any source (S2, OpenAlex, arXiv's journal DOI) knows both ids;
2. then records whose normalised titles are near-identical (rapidfuzz) and whose years differ by at most one
   are merged, unless their identifiers contradict each other (two different published DOIs, two arXiv ids).

A merged record keeps every identifier (the published DOI as ``doi``, a preprint's DOI as ``preprint_doi``),
the published version's metadata where it has it, the longest abstract otherwise, and in ``sources`` every
source that returned it.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections import defaultdict
from typing import Any

from rapidfuzz import fuzz, process

from ..records import Paper
from .sources.base import SourceResult
from .sources.web import paper_id

ID_KINDS = ("doi", "arxiv", "pmid", "openalex", "s2")
# DOI prefixes of preprint servers: arXiv (DataCite), bioRxiv/medRxiv, Research Square, SSRN, Preprints.org,
# OSF, ChemRxiv, Authorea, TechRxiv
PREPRINT_DOI = re.compile(r"^10\.(48550|1101|21203|2139|20944|31219|31234|26434|22541|36227)/", re.I)
PREPRINT_TYPES = {"preprint", "posted-content", "repository"}
TITLE_THRESHOLD = 95.0  # rapidfuzz ratio (0-100) over normalised titles
MIN_TITLE_CHARS = 20  # shorter titles ("Introduction", "Editorial") are never merged by title alone


def normalise_title(title: str) -> str:
    """Lower-case ASCII letters and digits separated by single spaces (accents, punctuation, markup dropped)."""
    text = unicodedata.normalize("NFKD", title or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(re.findall(r"[a-z0-9]+", text))


def _surname(p: Paper) -> str:
    return normalise_title(p.authors[0]).rsplit(" ", 1)[-1] if p.authors else ""


def titles_match(a: Paper, b: Paper, threshold: float = TITLE_THRESHOLD) -> bool:
    """The title rule: near-identical normalised titles, the same numbers in them ("GPT-3" is not "GPT-4"),
    years at most one apart (a missing year needs a near-exact title), and matching first-author surnames
    when both records name authors."""
    ta, tb = normalise_title(a.title), normalise_title(b.title)
    if min(len(ta), len(tb)) < MIN_TITLE_CHARS:
        return False
    if a.year is not None and b.year is not None:
        if abs(a.year - b.year) > 1:
            return False
    else:
        threshold = max(threshold, 98.0)
    if re.findall(r"\d+", ta) != re.findall(r"\d+", tb):
        return False
    if fuzz.ratio(ta, tb) < threshold:
        return False
    sa, sb = _surname(a), _surname(b)
    return not (sa and sb and fuzz.ratio(sa, sb) < 80)


def is_preprint(p: Paper) -> bool:
    doi = p.ids.get("doi") or ""
    return (
        bool(PREPRINT_DOI.match(doi))
        or (p.type or "").lower() in PREPRINT_TYPES
        or (not doi and "arxiv" in p.ids)
    )


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[max(ra, rb)] = min(ra, rb)  # the earliest record stays the root: stable order
        return True


def _conflict(a: list[Paper], b: list[Paper]) -> bool:
    """True when two clusters carry identifiers that say they are different works."""
    for kind in ("arxiv", "pmid"):
        va = {p.ids[kind] for p in a if p.ids.get(kind)}
        vb = {p.ids[kind] for p in b if p.ids.get(kind)}
        if va and vb and not va & vb:
            return True
    da = {p.ids["doi"] for p in a if p.ids.get("doi") and not PREPRINT_DOI.match(p.ids["doi"])}
    db = {p.ids["doi"] for p in b if p.ids.get("doi") and not PREPRINT_DOI.match(p.ids["doi"])}
    return bool(da and db and not da & db)


def _merge(cluster: list[Paper]) -> Paper:
    """One record for a cluster of duplicates (the input records are not modified)."""
    published = [p for p in cluster if not is_preprint(p)]
    pool = published or cluster
    primary = max(
        pool, key=lambda p: (bool(p.abstract), bool(p.ids.get("doi")), len(p.authors), -cluster.index(p))
    )
    merged = copy.deepcopy(primary)
    ids: dict[str, str] = {}
    for p in [primary, *cluster]:
        for k, v in p.ids.items():
            ids.setdefault(k, v)
    dois = [p.ids["doi"] for p in [primary, *cluster] if p.ids.get("doi")]
    published_dois = [d for d in dois if not PREPRINT_DOI.match(d)]
    if dois:
        ids["doi"] = (published_dois or dois)[0]
        others = [d for d in dict.fromkeys(dois) if d != ids["doi"]]
        if others:
            ids.setdefault("preprint_doi", others[0])
    merged.ids = ids
    if not merged.abstract:
        merged.abstract = max((p.abstract for p in cluster), key=len, default="")
    if not merged.authors:
        merged.authors = list(max((p.authors for p in cluster), key=len, default=[]))
    if merged.year is None:
        merged.year = min((p.year for p in cluster if p.year is not None), default=None)
    if not merged.venue:
        merged.venue = next((p.venue for p in cluster if p.venue), None)
    counts = [p.citation_count for p in cluster if p.citation_count is not None]
    merged.citation_count = max(counts) if counts else None
    merged.url = merged.url or next((p.url for p in cluster if p.url), None)
    merged.categories = list(dict.fromkeys(c for p in cluster for c in p.categories))
    merged.sources = list(dict.fromkeys(s for p in cluster for s in (p.sources or [p.source]) if s))
    merged.id = paper_id(ids) or primary.id
    return merged


def dedupe(
    papers: list[Paper], title_threshold: float = TITLE_THRESHOLD
) -> tuple[list[Paper], dict[str, int]]:
    """Merge duplicate records; returns the merged records (first-seen order) and how many merges each rule made."""
    n = len(papers)
    uf = _UnionFind(n)
    by_id = 0
    seen: dict[tuple[str, str], int] = {}
    for i, p in enumerate(papers):
        keys = [(k, p.ids[k].lower()) for k in ID_KINDS if p.ids.get(k)]
        keys.append(("id", p.id.lower()))
        for key in keys:
            if key in seen:
                by_id += uf.union(seen[key], i)
            else:
                seen[key] = i
    clusters: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        clusters[uf.find(i)].append(i)
    # title + year, between clusters (compared through each cluster's members)
    by_title = 0
    titles = {i: normalise_title(p.title) for i, p in enumerate(papers)}
    by_year: dict[int | None, list[int]] = defaultdict(list)
    for i, p in enumerate(papers):
        if len(titles[i]) >= MIN_TITLE_CHARS:
            by_year[p.year].append(i)
    for i, p in enumerate(papers):
        if len(titles[i]) < MIN_TITLE_CHARS:
            continue
        years = [p.year - 1, p.year, p.year + 1, None] if p.year is not None else list(by_year)
        threshold = title_threshold if p.year is not None else max(title_threshold, 98.0)
        choices = {j: titles[j] for y in years for j in by_year.get(y, []) if j > i}
        hits = process.extract(titles[i], choices, scorer=fuzz.ratio, score_cutoff=threshold, limit=None)
        for j in sorted(hit[2] for hit in hits):  # input order: the result does not depend on scores' ties
            ri, rj = uf.find(i), uf.find(j)
            if (
                ri == rj
                or not titles_match(p, papers[j], title_threshold)
                or _conflict([papers[k] for k in clusters[ri]], [papers[k] for k in clusters[rj]])
            ):
                continue
            uf.union(ri, rj)
            members = clusters.pop(ri, []) + clusters.pop(rj, [])
            clusters[uf.find(ri)] = sorted(members)
            by_title += 1
    roots = sorted(clusters)
    merged = [_merge([papers[k] for k in clusters[r]]) for r in roots]
    return merged, {"by_identifier": by_id, "by_title": by_title}


def merge_results(
    results: list[SourceResult], title_threshold: float = TITLE_THRESHOLD
) -> tuple[list[Paper], dict[str, Any]]:
    """Pool and de-duplicate every source's records; return (papers, PRISMA counts).

    The counts: ``per_source`` (status, records, requested, missing — records a failed/partial source did not
    deliver, None when unknown, as it is when planned queries were skipped —, error, stopped, skipped_queries),
    ``records_identified`` (sum over sources), ``duplicates_removed``,
    ``records_after_dedup`` (= identified − removed = len(papers)), ``duplicates_by_identifier`` /
    ``duplicates_by_title``, ``failed_sources`` / ``partial_sources`` (names), ``missing_records`` (sum of the
    known missing counts) and ``missing_unknown`` (sources whose missing count is unknown).
    """
    pooled: list[Paper] = []
    per_source: dict[str, dict[str, Any]] = {}
    for res in results:
        for p in res.records:
            q = copy.deepcopy(p)
            q.source = q.source or res.source
            q.sources = list(dict.fromkeys([*(q.sources or []), res.source]))
            pooled.append(q)
        n = len(res.records)
        missing = None
        if res.status != "ok":  # what skipped queries would have found is not known
            missing = max(0, res.requested - n) if res.requested and not res.skipped_queries else None
        entry = {
            "status": res.status,
            "records": n,
            "requested": res.requested,
            "missing": missing,
            "error": res.error,
            "stopped": res.stopped,
            "skipped_queries": res.skipped_queries,
        }
        if res.source in per_source:  # the same source twice: add up
            old = per_source[res.source]
            entry["records"] += old["records"]
            entry["requested"] += old["requested"]
            if old["status"] != "ok" or res.status != "ok":
                entry["status"] = (
                    "failed"
                    if "failed" in {old["status"], res.status} and entry["records"] == 0
                    else "partial"
                )
            entry["missing"] = (
                None
                if None in (old["missing"], missing) and entry["status"] != "ok"
                else (old["missing"] or 0) + (missing or 0)
            )
            entry["error"] = old["error"] or res.error
            entry["stopped"] = old["stopped"] or res.stopped
            entry["skipped_queries"] += old["skipped_queries"]
        per_source[res.source] = entry
    papers, rules = dedupe(pooled, title_threshold)
    identified = len(pooled)
    stats = {
        "per_source": per_source,
        "records_identified": identified,
        "duplicates_removed": identified - len(papers),
        "records_after_dedup": len(papers),
        "duplicates_by_identifier": rules["by_identifier"],
        "duplicates_by_title": rules["by_title"],
        "failed_sources": [s for s, e in per_source.items() if e["status"] == "failed"],
        "partial_sources": [s for s, e in per_source.items() if e["status"] == "partial"],
        "missing_records": sum(e["missing"] or 0 for e in per_source.values() if e["status"] != "ok"),
        "missing_unknown": [s for s, e in per_source.items() if e["status"] != "ok" and e["missing"] is None],
    }
    return papers, stats


__all__ = ["dedupe", "merge_results", "normalise_title", "titles_match"]
