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
from ..question import BACKGROUND_DF, QuestionAnalysis, analyse
from ..records import Paper
from ..review.apply import apply_paper_decisions
from .dedup import merge_results
from .prisma import PrismaCounts, count
from .query import QueryPlan, build_query_plan
from .screening import Decision, criteria_sets, relax, screen, semantic_similarity
from .sources import SourceResult
from .store import open_corpus
from .terms import acronyms, doc_share


@dataclass
class RetrievalResult:
    plan: QueryPlan
    sources: list[SourceResult]
    papers: list[Paper]
    decisions: list[Decision]
    prisma: PrismaCounts
    dedup_stats: dict = field(default_factory=dict)
    analysis: QuestionAnalysis | None = None
    criteria: dict = field(default_factory=dict)  # what screening required: source, sets, relaxed

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
    by_name = {r.source: r for r in search_all(online, plan.question, plan.queries, params.year_range)}
    results = []
    for spec in params.sources:
        if spec.name in by_name:
            results.append(by_name[spec.name])
            continue
        try:
            src = LocalSource(spec.name.split(":", 1)[1], method=method)
            res = src.search(plan.question, plan.queries, spec.limit, params.year_range, extra=plan.extra)
        except (WorkbenchError, KeyError, OSError, ValueError) as exc:
            res = SourceResult(spec.name, status="failed", error=str(exc).splitlines()[0])
        results.append(res)
    return results


BACKGROUND_MIN_DOCS = 2000  # only a corpus this large says which concepts are background


def analyse_question(params: Params) -> QuestionAnalysis:
    """The question analysis, with corpus statistics from the first local corpus searched (if any)."""
    df = acronym = None
    local = next((s.name.split(":", 1)[1] for s in params.sources if s.name.startswith("local:")), None)
    if local:
        try:
            store = open_corpus(local, progress=False)
            df, acronym = doc_share(store), acronyms(store)
            if len(store) < BACKGROUND_MIN_DOCS:  # in a small topical corpus a common concept is the topic itself
                share = df
                df = lambda w: min(share(w), BACKGROUND_DF)  # noqa: E731
        except (WorkbenchError, OSError):
            pass
    analysis = analyse(params.question, params.sub_questions, df, acronym)
    mains = [s for s in analysis.sub_questions if s.role == "main"]
    if params.criteria.include_any and len(mains) == 1 and not any(g.facets for g in params.sub_questions):
        # the person's own keyword groups say what the question's one main part is about
        mains[0].facets = [list(g) for g in params.criteria.include_any]
    return analysis


def criteria_query(groups: list[list[str]]) -> str | None:
    """One query joining the inclusion groups (two keywords each): the facets the question needs together."""
    if len(groups) < 2:
        return None
    return " ".join(k for g in groups for k in g[:2])


def sub_question_queries(sq) -> list[str]:
    """Two queries for a sub-question: its facets by their phrases, and by their most specific word with two
    other ways of saying each (synonyms): what a paper answering it must talk about."""
    phrases = " ".join(dict.fromkeys(w for g in sq.facets for w in g[0].split()))
    terms = []
    for g in sq.facets:
        anchor = g[1] if len(g) > 1 else g[0]
        others = [k for k in g[2:] if anchor not in k and k not in anchor][:2]
        terms += [anchor, *others]
    return [phrases, " ".join(dict.fromkeys(terms))]


def plan_queries(params: Params, analysis: QuestionAnalysis | None = None) -> QueryPlan:
    """The question's query plan plus the criteria query and two queries per sub-question, then the params' extra
    queries (their own, or the LLM plan's) as extras, none twice."""
    plan = build_query_plan(analysis.focus if analysis else params.question, params.extra_terms)
    # a compound question's parts get queries of their own; a simple one is its main query
    subs = [q for sq in analysis.sub_questions if sq.facets for q in sub_question_queries(sq)] \
        if analysis and len(analysis.sub_questions) > 1 else []
    for q in [criteria_query(params.criteria.include_any), *subs]:
        plan.add(q)  # skipped when the plan already holds it (compared normalised)
    for q in params.extra_queries:
        plan.add(q, extra=True)
    return plan


def run(params: Params, plan_queries_after: bool = False) -> RetrievalResult:
    """Search, de-duplicate and screen. `plan_queries_after`: the params' extra queries are an LLM plan's, so the
    records only they found rank after the question's own at the `max_papers` cap (they fill places, never take
    them)."""
    analysis = analyse_question(params)
    plan = plan_queries(params, analysis)
    results = gather(params, plan)
    papers, stats = merge_results(results)
    semantic = semantic_similarity(plan.question, [p for p in papers if p.abstract])
    sets, notes = criteria_sets(params, analysis), []
    if not params.criteria.include_any:
        sets, notes = relax(sets, papers, params.min_papers)
    after = {i for r in results for i in r.added} & {p.id for p in papers} if plan_queries_after else set()
    criteria = {"source": "params" if params.criteria.include_any else "derived from the question",
                "sets": sets, "relaxed": notes, "plan_only_records": len(after)}
    decisions = screen(papers, params, semantic, sets, after)
    apply_paper_decisions(decisions, params.slug or "")
    per_source = stats["per_source"]
    prisma = count({s: e["records"] for s, e in per_source.items()}, stats["duplicates_removed"],
                   [{"decision": d.decision, "reason": d.reason, "excluded_by": d.excluded_by}
                    for d in decisions],
                   {s: per_source[s]["error"] for s in stats["failed_sources"]},
                   {s: per_source[s]["error"] for s in stats["partial_sources"]},
                   stats["missing_records"], stats["missing_unknown"])
    return RetrievalResult(plan, results, papers, decisions, prisma, stats, analysis, criteria)


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
    if result.analysis is not None:
        write_text(out_dir / "question.json",
                   json.dumps({**result.analysis.to_dict(), "criteria": result.criteria}, indent=1, ensure_ascii=False))
    from .prisma import figure

    fig = figure(result.prisma)
    fig.savefig(out_dir / "prisma.png", dpi=130)
    import matplotlib.pyplot as plt

    plt.close(fig)
