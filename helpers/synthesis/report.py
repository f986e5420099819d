"""The report: a direct answer first, then abstract, methods, results, claims, limitations, references.

Every number comes from a file in `outputs/<slug>/`; `report.json` records the numbers the report states
so `consistency_problems` can check them against the files.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import bibtexparser
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from .. import spreadsheet
from ..atomic import write_text
from ..llm import notes as llm_notes
from ..outputs import load_json, load_papers, read_jsonl, reference_numbers
from ..params import Params
from ..review import decisions as reviews
from . import references
from .render_md import markdown


def retrieval_statements(search: dict) -> list[str]:
    """How each local source's dense (semantic) scores were computed, from search.json."""
    out = []
    for s in search.get("sources", []):
        d = s.get("dense")
        if not d:
            continue
        if d["scope"] == "full index":
            out.append(f"{s['source']}: hybrid BM25 + dense (MiniLM) retrieval, dense scores over the full embedding "
                       f"index ({d['corpus_documents']:,} documents).")
        else:
            out.append(f"{s['source']}: hybrid BM25 + dense (MiniLM) retrieval with dense scores over the BM25 "
                       f"candidates only ({d['scored']:,} of {d['corpus_documents']:,} documents, "
                       f"{d['embedded_now']:,} of them embedded for this run): the corpus's full embedding index "
                       f"was not built yet.")
    return out


def _limitations(ctx: dict) -> list[str]:
    out = []
    for s in ctx["search"].get("sources", []):
        if (s.get("dense") or {}).get("scope") == "BM25 candidates":
            out.append(f"Dense (semantic) scores for {s['source']} covered only the BM25 candidates of the queries: a "
                       "paper that shares no words with any query could not be found by meaning alone.")
    p = ctx["prisma"]
    for s, err in (p.get("failed_sources") or {}).items():
        out.append(f"Source {s} failed ({err}); its records are missing from this synthesis.")
    for s, err in (p.get("partial_sources") or {}).items():
        out.append(f"Source {s} returned only part of its results ({err}).")
    if p.get("missing_records") or p.get("missing_unknown"):
        out.append(f"{p.get('missing_records', 0)} records that sources reported could not be retrieved"
                   + (f"; the count is unknown for {', '.join(p['missing_unknown'])}" if p.get("missing_unknown") else "") + ".")
    for s in (ctx["answer"] or {}).get("sub_answers", []):
        if s["status"] == "not answered":
            out.append(f"Sub-question {s['id']} ({s['question']}) is not answered: {s['reason']}.")
        elif s["status"] == "no verdict":
            out.append(f"Sub-question {s['id']} ({s['question']}) has no verdict: too few included papers take a stance.")
    for note in (ctx["question"].get("criteria") or {}).get("relaxed", []):
        out.append(f"Screening was relaxed: {note}.")
    n_inc = p["included"]
    if n_inc < ctx["params"]["min_papers"]:
        out.append(f"Only {n_inc} papers passed screening (minimum {ctx['params']['min_papers']}): the question cannot be answered from this evidence.")
    elif n_inc < 2 * ctx["params"]["min_papers"]:
        out.append(f"Few papers ({n_inc}) were included; conclusions are imprecise.")
    if ctx["preprint_share"] > 0.5:
        out.append(f"{ctx['preprint_share']:.0%} of included papers are preprints that have not been peer-reviewed.")
    labels = ctx["claims_by_label"]
    total = sum(labels.values())
    if total and labels.get("NOT ENOUGH INFO", 0) / total > 0.5:
        out.append(f"{labels.get('NOT ENOUGH INFO', 0)} of {total} claims could not be corroborated by another retrieved paper "
                   "(NOT ENOUGH INFO): they rest on a single source.")
    if ctx["contradictions"]:
        out.append(f"{ctx['contradictions']} claims have both supporting and contradicting papers.")
    alpha = ctx["review"]["agreement"]["krippendorff_alpha"]
    if alpha is None or alpha < 0.667:
        out.append("Agreement between the automated reviewers is "
                   + ("undefined (too few claims)." if alpha is None else f"low (Krippendorff's alpha = {alpha:.2f}), so the overall score is uncertain."))
    out.append(f"Claims are single sentences from abstracts only (full texts were not read); verification used the "
               f"'{ctx['verification']['verifier']}' verifier over abstracts.")
    out += llm_notes.limitations(ctx.get("plan"), ctx.get("llm"), ctx.get("llm_stance"))
    if ctx["human"]["claims_reviewed"] == 0:
        out.append("No person has reviewed the claims yet: every label is the machine's.")
    return out


def build_context(params: Params, out_dir: Path) -> dict:
    """Everything the report states, read from the run's files."""
    out_dir = Path(out_dir)
    included, _, relevance = load_papers(out_dir)
    papers_csv = spreadsheet.read_csv(out_dir / "papers.csv")
    claims = spreadsheet.read_csv(out_dir / "claims.csv")
    rejected = spreadsheet.read_csv(out_dir / "claims_rejected.csv") if (out_dir / "claims_rejected.csv").stat().st_size > 1 else pd.DataFrame()
    prisma = json.loads((out_dir / "prisma.json").read_text())
    review = json.loads((out_dir / "review.json").read_text())
    search = json.loads((out_dir / "search.json").read_text())
    verification = json.loads((out_dir / "verification.json").read_text())
    claim_rows = claims.to_dict("records")
    keys = references.cite_keys(included)
    by_id = {p.id: p for p in included}
    ref_num = reference_numbers(included)
    findings = spreadsheet.read_csv(out_dir / "findings.csv").to_dict("records") \
        if (out_dir / "findings.csv").exists() else []
    evidence = {}
    if (out_dir / "claims.jsonl").exists():
        for d in read_jsonl(out_dir / "claims.jsonl"):
            evidence[d["claim_id"]] = d.get("evidence", [])
    decisions = reviews.latest(params.slug or "")
    human = {"claims_reviewed": sum(1 for (k, i) in decisions if k == "claim" and i in set(claims["claim_id"]) | set(rejected.get("claim_id", []))),
             "claims_rejected": len(rejected), "claims_relabelled": int((claims.get("label_source", pd.Series(dtype=str)) == "reviewer").sum()),
             "papers_reviewed": sum(1 for (k, _) in decisions if k == "paper")}
    counts = claims["label"].value_counts().to_dict() if len(claims) else {}
    return {
        "params": params.model_dump(), "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "answer": load_json(out_dir, "answer.json"), "question": load_json(out_dir, "question.json", {}),
        "stances": load_json(out_dir, "stance.json", {}), "findings": findings, "prisma": prisma, "search": search, "review": review, "verification": verification,
        "papers_table": papers_csv, "included": included, "keys": keys, "ref_num": ref_num, "by_id": by_id,
        "claims": claim_rows, "evidence": evidence, "human": human,
        "claims_by_label": {k: int(counts.get(k, 0)) for k in ("SUPPORTS", "REFUTES", "NOT ENOUGH INFO")},
        "contradictions": int((claims["contradiction"].astype(str).str.lower() == "true").sum()) if len(claims) else 0,
        "preprint_share": (sum(1 for p in included if p.type == "preprint") / len(included)) if included else 0.0,
        "n_screened_records": len(papers_csv), "retrieval": retrieval_statements(search),
        "plan": load_json(out_dir, "plan.json"), "llm": load_json(out_dir, "llm_answer.json"),
        "llm_stance": load_json(out_dir, "llm_stance.json"),
        "stance_reader": (load_json(out_dir, "llm_stance.json") or {}).get("reader")
        or "the verifier's stance head",
    }


def _abstract(ctx: dict) -> str:
    p, cl, rv = ctx["prisma"], ctx["claims_by_label"], ctx["review"]
    srcs = ", ".join(s["source"] for s in ctx["search"]["sources"])
    alpha = rv["agreement"]["krippendorff_alpha"]
    return (f"We searched {srcs} for: \"{ctx['params']['question']}\". {p['identified']} records were identified, "
            f"{p['duplicates_removed']} duplicates removed, {p['screened']} screened and {p['included']} papers included. "
            f"From the included abstracts, {sum(cl.values())} finding sentences were extracted as claims and each was "
            f"checked against other retrieved papers: {cl['SUPPORTS']} supported, {cl['REFUTES']} refuted and "
            f"{cl['NOT ENOUGH INFO']} without corroborating evidence (NOT ENOUGH INFO). "
            f"{len(rv['reviewers'])} independent automated reviewers scored the synthesis {rv['overall']:.1f}/10 "
            f"(range {rv['spread'].get('min', 0):.1f}-{rv['spread'].get('max', 0):.1f}; Krippendorff's alpha "
            f"{'undefined' if alpha is None else f'{alpha:.2f}'}). Answer: {ctx['answer']['text']}")


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode() if path.exists() else ""


def html_report(ctx: dict, out_dir: Path) -> str:
    """Self-contained HTML (figures embedded); Jinja2 autoescaping makes every paper string inert."""
    env = Environment(loader=PackageLoader("helpers.synthesis", "templates"), autoescape=select_autoescape(["html", "j2"]))
    return env.get_template("report.html.j2").render(
        ctx=ctx, abstract=_abstract(ctx), limitations=_limitations(ctx),
        llm_methods=[t.partition(": ")[::2] for t in (llm_notes.plan_summary(ctx.get("plan")),
                                                       llm_notes.reader_summary(ctx.get("llm"))) if t],
        prisma_png=_data_uri(Path(out_dir) / "prisma.png"), review_png=_data_uri(Path(out_dir) / "review.png"))


def report_stage(params: Params, out_dir: Path) -> dict:
    """Write report.md/html/json and the reference files; return the context."""
    out_dir = Path(out_dir)
    ctx = build_context(params, out_dir)
    inc = ctx["included"]
    write_text(out_dir / "references.bib", references.bibtex(inc))
    write_text(out_dir / "references.ris", references.ris(inc))
    write_text(out_dir / "references.json", references.csl_json(inc))
    write_text(out_dir / "references.csv", references.csv(inc))
    write_text(out_dir / "answer.json", json.dumps(ctx["answer"], indent=1))
    write_text(out_dir / "report.md", markdown(ctx, _abstract(ctx), _limitations(ctx)))
    write_text(out_dir / "report.html", html_report(ctx, out_dir))
    stated = {"identified": ctx["prisma"]["identified"], "screened": ctx["prisma"]["screened"],
              "included": ctx["prisma"]["included"], "claims": len(ctx["claims"]),
              "claims_by_label": ctx["claims_by_label"], "references": len(inc),
              "reference_ids": [p.id for p in inc], "answer_status": ctx["answer"]["status"],
              "overall_score": ctx["review"]["overall"], "human": ctx["human"],
              "dense_scope": {src["source"]: src["dense"]["scope"] for src in ctx["search"]["sources"] if src.get("dense")},
              "llm_sentences": [{"cites": s["supported_by"]} for a in (ctx["llm"] or {}).get("answers", [])
                                for s in a["sentences"]]}
    write_text(out_dir / "report.json", json.dumps(stated, indent=1))
    return ctx


def consistency_problems(out_dir: Path) -> list[str]:
    """Cross-check the report's stated numbers against the files; an empty list means consistent."""
    out_dir = Path(out_dir)
    problems = []
    stated = json.loads((out_dir / "report.json").read_text())
    prisma = json.loads((out_dir / "prisma.json").read_text())
    papers = spreadsheet.read_csv(out_dir / "papers.csv")
    claims = spreadsheet.read_csv(out_dir / "claims.csv")
    bib = bibtexparser.parse_string((out_dir / "references.bib").read_text())
    inc_ids = set(papers.loc[papers["decision"] == "included", "id"])
    checks = {
        "PRISMA included vs papers.csv included rows": (prisma["included"], len(inc_ids)),
        "PRISMA included vs references.bib entries": (prisma["included"], len(bib.entries)),
        "report included vs PRISMA": (stated["included"], prisma["included"]),
        "report references vs included": (stated["references"], len(inc_ids)),
        "report screened vs papers.csv rows": (stated["screened"], len(papers)),
        "report claims vs claims.csv rows": (stated["claims"], len(claims)),
    }
    for name, (a, b) in checks.items():
        if a != b:
            problems.append(f"{name}: {a} != {b}")
    search = json.loads((out_dir / "search.json").read_text())
    scopes = {src["source"]: src["dense"]["scope"] for src in search["sources"] if src.get("dense")}
    if stated.get("dense_scope", {}) != scopes:
        problems.append(f"report dense scope {stated.get('dense_scope')} != search.json {scopes}")
    if set(stated["reference_ids"]) != inc_ids:
        problems.append("reference list differs from the included papers")
    n_inc = len(inc_ids)
    for s in stated.get("llm_sentences", []):
        if not s["cites"] or any(not 1 <= c <= n_inc for c in s["cites"]):
            problems.append(f"an LLM answer sentence cites {s['cites']}, not only included papers (1-{n_inc})")
    stray = set(claims["paper_id"]) - inc_ids if len(claims) else set()
    if stray:
        problems.append(f"claims from papers that are not included: {sorted(stray)[:3]}")
    by_label = claims["label"].value_counts().to_dict() if len(claims) else {}
    for k, v in stated["claims_by_label"].items():
        if by_label.get(k, 0) != v:
            problems.append(f"claims labelled {k}: report {v} != claims.csv {by_label.get(k, 0)}")
    return problems
