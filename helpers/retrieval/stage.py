"""The retrieval stage: plan queries, search every source, de-duplicate, screen, count (PRISMA)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import spreadsheet
from ..atomic import write_text
from ..errors import WorkbenchError
from ..params import Params
from ..records import Paper
from ..review.apply import apply_paper_decisions
from .dedup import merge_results
from .prisma import PrismaCounts, count
from .query import QueryPlan, build_query_plan
from .screening import Decision, screen, semantic_similarity
from .sources import SourceResult


@dataclass
class RetrievalResult:
    plan: QueryPlan
    sources: list[SourceResult]
    papers: list[Paper]
    decisions: list[Decision]
    prisma: PrismaCounts
    dedup_stats: dict = field(default_factory=dict)

    @property
    def included(self) -> list[Paper]:
        """Included papers, most relevant first."""
        rel = {d.paper_id: d.relevance for d in self.decisions if d.decision == "included"}
        return sorted((p for p in self.papers if p.id in rel), key=lambda p: -rel[p.id])

    def table(self) -> pd.DataFrame:
        """One row per screened record (the content of papers.csv)."""
        by_id = {p.id: p for p in self.papers}
        rows = []
        for d in sorted(self.decisions, key=lambda d: (d.decision != "included", -d.relevance)):
            p = by_id[d.paper_id]
            rows.append({
                "id": p.id, "title": p.title, "year": p.year, "source": ";".join(p.sources or [p.source]),
                "relevance": d.relevance, "decision": d.decision, "exclusion_reason": d.reason,
                "excluded_by": d.excluded_by if d.decision == "excluded" else "",
                "doi": p.doi or "", "arxiv_id": p.arxiv_id or "", "url": p.link or "",
            })
        df = pd.DataFrame(rows)
        if len(df):
            df["year"] = df["year"].astype("Int64")  # 2025, or empty: never 2025.0 when some year is missing
        return df


def gather(params: Params, plan: QueryPlan) -> list[SourceResult]:
    """Search every source in the params (online ones concurrently); a source that breaks is reported as
    failed, never fatal. Results come back in the params' order."""
    from .sources.local import LocalSource
    from .sources.online import search_all

    method = None if params.retrieval_method == "default" else params.retrieval_method
    online = [(s.name, s.limit, s.budget or params.source_budget)
              for s in params.sources if not s.name.startswith("local:")]
    by_name = {r.source: r for r in search_all(online, params.question, plan.queries, params.year_range)}
    results = []
    for spec in params.sources:
        if spec.name in by_name:
            results.append(by_name[spec.name])
            continue
        try:
            src = LocalSource(spec.name.split(":", 1)[1], method=method)
            res = src.search(params.question, plan.queries, spec.limit, params.year_range)
        except (WorkbenchError, KeyError, OSError, ValueError) as exc:
            res = SourceResult(spec.name, status="failed", error=str(exc).splitlines()[0])
        results.append(res)
    return results


def criteria_query(params: Params) -> str | None:
    """One query joining the inclusion groups (two keywords each): the facets the question needs together."""
    groups = params.criteria.include_any
    if len(groups) < 2:
        return None
    return " ".join(k for g in groups for k in g[:2])


def plan_queries(params: Params) -> QueryPlan:
    """The question's query plan plus the criteria query and the params' own extra queries, none twice."""
    plan = build_query_plan(params.question, params.extra_terms)
    for q in [criteria_query(params), *params.extra_queries]:
        plan.add(q)  # skipped when the plan already holds it (compared normalised)
    return plan


def run(params: Params) -> RetrievalResult:
    plan = plan_queries(params)
    results = gather(params, plan)
    papers, stats = merge_results(results)
    semantic = semantic_similarity(params.question, [p for p in papers if p.abstract])
    decisions = screen(papers, params, semantic)
    apply_paper_decisions(decisions, params.slug or "")
    per_source = stats["per_source"]
    prisma = count({s: e["records"] for s, e in per_source.items()}, stats["duplicates_removed"],
                   [{"decision": d.decision, "reason": d.reason, "excluded_by": d.excluded_by}
                    for d in decisions],
                   {s: per_source[s]["error"] for s in stats["failed_sources"]},
                   {s: per_source[s]["error"] for s in stats["partial_sources"]},
                   stats["missing_records"], stats["missing_unknown"])
    return RetrievalResult(plan, results, papers, decisions, prisma, stats)


def save(result: RetrievalResult, out_dir: Path) -> None:
    """Write papers.csv, records.jsonl, search.json, prisma.json and prisma.png into `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    decision_by_id = {d.paper_id: d for d in result.decisions}
    write_text(out_dir / "papers.csv", spreadsheet.to_csv(result.table()))
    lines = []
    for p in sorted(result.papers, key=lambda p: -decision_by_id[p.id].relevance):
        d = decision_by_id[p.id]
        lines.append(json.dumps({**p.to_dict(), "decision": d.decision, "relevance": d.relevance,
                                 "exclusion_reason": d.reason}, ensure_ascii=False))
    write_text(out_dir / "records.jsonl", "\n".join(lines) + "\n")
    write_text(out_dir / "search.json", json.dumps({
        "plan": result.plan.to_dict(), "sources": [r.to_dict() for r in result.sources],
        "dedup": result.dedup_stats}, indent=1))
    write_text(out_dir / "prisma.json", json.dumps(result.prisma.to_dict(), indent=1))
    from .prisma import figure

    fig = figure(result.prisma)
    fig.savefig(out_dir / "prisma.png", dpi=130)
    import matplotlib.pyplot as plt

    plt.close(fig)
