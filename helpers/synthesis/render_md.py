"""The report as Markdown (`report.md`): the answer first, then abstract, methods, results, claims, limitations
and references. Every string from a paper or the params goes through `md_escape`."""

from __future__ import annotations

import re

from ..text import md_escape as e
from . import llm_section

_REF = re.compile(r"\\\[(\d+)\](?!\()")


def with_refs(text: str) -> str:
    """Escaped text whose reference markers ("[3]") read as such again (never followed by a link target)."""
    return _REF.sub(r"[\1]", e(text))


def refs(ctx: dict, ids: list[str]) -> str:
    return ", ".join(f"[{ctx['ref_num'][i]}]" for i in ids if i in ctx["ref_num"])


def answer_lines(ctx: dict) -> list[str]:
    a = ctx["answer"]
    L = ["## Answer", "", with_refs(a["text"]), ""]
    if a["status"] == "insufficient":
        return L + [f"Certainty: **{a['certainty']}**", ""]
    for s in a["sub_answers"]:
        head = f"### {s['id']}. {e(s['question'])}"
        L += [head, ""]
        if s["status"] == "not answered":
            L += [f"**Not answered.** {e(s['reason']).capitalize()}. Closest papers: {refs(ctx, s['closest']) or 'none'}.", ""]
            continue
        verdict = f"**{s['verdict']}**. " if s["verdict"] else ("**No verdict.** " if s["status"] == "no verdict" else "")
        cert = f"Certainty: **{s['certainty']}**" + (f" ({e('; '.join(s['certainty_reasons']))})"
                                                    if s["certainty_reasons"] else "")
        L += [f"{verdict}{cert}.", ""]
        if s["meter"]:
            L.append("Papers: " + " · ".join(f"{k} {v}" + (f" ({refs(ctx, s['papers_by_stance'][k])})"
                                                         if k != "not addressed" and v else "")
                                            for k, v in s["meter"].items()))
            L.append("")
        for g in s["quantities"]:
            span = f"{g['min']:g}{g['unit']}" if g["min"] == g["max"] else \
                f"{g['min']:g}{g['unit']} to {g['max']:g}{g['unit']}, median {g['median']:g}{g['unit']}"
            L.append(f"- {e(g['metric'])}{' (' + g['direction'] + ')' if g['direction'] else ''}: {span}; "
                     f"{g['papers']} paper(s) {refs(ctx, g['papers_ids'])}")
        qual = s.get("qualitative") or {}
        if any(qual.values()):
            L.append(f"- key sentences stating no loss: {refs(ctx, qual.get('no loss', [])) or 'none'}; "
                     f"a loss: {refs(ctx, qual.get('loss', [])) or 'none'}")
        if s["quantities"] or any(qual.values()):
            L.append("")
        for q in s["quotes"]:
            stance = f" (stance: {q['stance']})" if q.get("stance") else ""
            L.append(f"> \"{e(q['text'])}\" [{ctx['ref_num'].get(q['paper_id'], '?')}], sentence "
                     f"{q['sentence_index']}{stance}")
            L.append(">")
        if s["quotes"]:
            L[-1] = ""
    return L


def methods_lines(ctx: dict) -> list[str]:
    prm, rv, qa = ctx["params"], ctx["review"], ctx["question"]
    crit = qa.get("criteria", {})
    subs = "; ".join(f"{s['id']} ({s['kind']}{', ' + s['role'] if s['role'] != 'main' else ''}): {e(s['text'])}"
                     for s in qa.get("sub_questions", []))
    sets = crit.get("sets") or []
    criteria = " OR ".join("[" + " AND ".join("(" + " OR ".join(e(k) for k in g) + ")" for g in s) + "]" for s in sets)
    L = ["## Methods", "",
         f"**Question analysis:** a {qa.get('kind', '?')} question with {len(qa.get('sub_questions', []))} "
         f"sub-question(s) ({'from the params file' if qa.get('source') == 'params' else 'derived from the question'}): "
         f"{subs}. Facets: " + ("; ".join(e(f[0]) for f in qa.get("facets", [])) or "none")
         + (f"; background (too common in the corpus to screen on): {', '.join(e(b) for b in qa['background'])}"
            if qa.get("background") else "") + ".", "",
         "**Sources:** " + "; ".join(f"{s['source']} ({s['status']}, {s['n_records']} records)"
                                     for s in ctx["search"]["sources"]), "",
         f"**Queries:** main: `{e(ctx['search']['plan']['main'])}`"
         + "".join(f"; facet: `{e(f)}`" for f in ctx["search"]["plan"]["facets"])
         + "".join(f"; extra (adds records, never displaces): `{e(f)}`" for f in ctx["search"]["plan"].get("extra", [])),
         "",
         *([f"**Retrieval:** {e(' '.join(ctx['retrieval']))}", ""] if ctx.get("retrieval") else []),
         f"**Inclusion criteria** ({e(crit.get('source', 'params'))}): " + (criteria or "none")
         + f"; relevance ≥ {prm['criteria']['min_relevance']}; years {prm['year_from'] or 'any'}-{prm['year_to'] or 'any'}"
         + ("; surveys and reviews excluded" if prm["criteria"]["exclude_surveys"] else "")
         + (f"; excluded keywords: {', '.join(e(k) for k in prm['criteria']['exclude_any'])}"
            if prm["criteria"]["exclude_any"] else "")
         + ("; relaxed: " + "; ".join(e(x) for x in crit["relaxed"]) if crit.get("relaxed") else "") + ".", "",
         f"**Screening:** every record is scored for relevance (question words, criteria keyword groups, semantic "
         f"similarity); at most {prm['max_papers']} are included, best first.", "",
         f"**Evidence and claims:** every sentence of each included abstract is scored for each sub-question by the "
         f"evidence ranker (bi-encoder similarity, the verifier's relevance model, facet coverage, finding cues); up to "
         f"{prm['claims_per_paper']} sentences per paper that address a sub-question become claims, copied whole. "
         "Each paper's stance on each yes/no sub-question comes from the stance model (yes / no / mixed / not "
         f"addressed, calibrated; read by {e(ctx['stance_reader'])}); a verdict needs {prm['min_stance_papers']} papers "
         "with a stance. Numbers with a unit and a metric in the evidence sentences are kept in findings.csv.", "",
         *llm_section.methods_lines(ctx),
         f"**Verification:** {e(ctx['verification']['how'])}", "",
         f"**Scoring:** {rv['scale']}.", ""]
    return L


def stance_lines(ctx: dict) -> list[str]:
    """Each included paper's stance on each yes/no sub-question."""
    if not ctx["stances"]:
        return []
    L = ["", "### Stances", "", "| Sub-question | Paper | Stance | Confidence |", "|---|---|---|---|"]
    for q, by in ctx["stances"].items():
        for pid, st in by.items():
            L.append(f"| {q} | [{ctx['ref_num'].get(pid, '?')}] | {st['label']} | {st['confidence']:.2f} |")
    return L


def findings_lines(ctx: dict) -> list[str]:
    """The reported quantities (findings.csv)."""
    rows = ctx["findings"]
    if not rows:
        return []
    L = ["", "### Reported quantities", "", "| Sub-question | Paper | Metric | Value | Method | Condition | Sentence |",
         "|---|---|---|---|---|---|---|"]
    for f in rows:
        value = f"{f['bound'] + ' ' if f['bound'] else ''}{f['value']:g} {f['unit']}" + (f" ({f['direction']})" if f["direction"] else "")
        L.append(f"| {f['sub_question']} | [{ctx['ref_num'].get(f['paper_id'], '?')}] s{f['sentence_index']} | "
                 f"{e(f['metric'])} | {value} | {e(f['method'])} | {e(f['condition'])} | {e(f['sentence'])} |")
    return L


def markdown(ctx: dict, abstract: str, limitations: list[str]) -> str:
    """The whole report."""
    prm, p, rv = ctx["params"], ctx["prisma"], ctx["review"]
    L = [f"# {e(prm['title'])}", "", f"**Question:** {e(prm['question'])}  ", f"**Date:** {ctx['generated']}", ""]
    L += answer_lines(ctx)
    L += llm_section.answer_lines(ctx)
    L += ["## Abstract", "", e(abstract), ""]
    L += methods_lines(ctx)
    L += ["## Results", "", "![PRISMA flow](prisma.png)", "",
          "| Stage | Records |", "|---|---|"]
    for s, n in p["identified_per_source"].items():
        L.append(f"| Identified: {e(s)} | {n} |")
    L += [f"| Duplicates removed | {p['duplicates_removed']} |", f"| Screened | {p['screened']} |"]
    for r, n in p["excluded_automation"].items():
        L.append(f"| Excluded by automation: {e(r)} | {n} |")
    for r, n in p["excluded_reviewer"].items():
        L.append(f"| Excluded by reviewer: {e(r)} | {n} |")
    L += [f"| **Included** | **{p['included']}** |", "",
          f"Claims by label: SUPPORTS {ctx['claims_by_label']['SUPPORTS']}, REFUTES {ctx['claims_by_label']['REFUTES']}, "
          f"NOT ENOUGH INFO {ctx['claims_by_label']['NOT ENOUGH INFO']}; contradictions: {ctx['contradictions']}. "
          f"A person reviewed {ctx['human']['claims_reviewed']} claims ({ctx['human']['claims_rejected']} rejected, "
          f"{ctx['human']['claims_relabelled']} relabelled) and {ctx['human']['papers_reviewed']} papers.", "",
          f"### Review scores: {rv['overall']:.1f}/10", "", "![Score breakdown](review.png)", "",
          "| Reviewer | Item | Score | Reason |", "|---|---|---|---|"]
    for r in rv["reviewers"]:
        for it in r["items"]:
            score = "n/a" if it["score"] is None else f"{it['score']:.1f}"
            L.append(f"| {r['reviewer']} ({r['score']:.1f}, weight {r.get('weight', 1)}) | {e(it['name'])} | {score} | {e(it['reason'])} |")
    L += ["", "## Claims", "", "| # | Claim | Answers | Paper | Label | Confidence | Evidence |", "|---|---|---|---|---|---|---|"]
    for i, c in enumerate(ctx["claims"], 1):
        label = c["label"] + (" (set by reviewer; verifier: " + c["verifier_label"] + ")" if c.get("label_source") == "reviewer" else "")
        ev = "; ".join(f"[{ctx['ref_num'].get(x['paper_id'], x['paper_id'])}] {x['label']} {x['confidence']:.2f}: \"{e(x['text'])}\""
                       for x in ctx["evidence"].get(c["claim_id"], []))
        L.append(f"| {i} | {e(c['claim'])} | {c.get('sub_question', '')} | [{ctx['ref_num'][c['paper_id']]}] s{c['sentence_index']} | {label} | "
                 f"{float(c['confidence']):.2f} | {ev or '—'} |")
    L += stance_lines(ctx) + findings_lines(ctx)
    L += ["", "## Limitations", ""] + [f"- {e(x)}" for x in limitations]
    L += ["", "## References", ""]
    for pp in ctx["included"]:
        ident = f"doi:{pp.doi}" if pp.doi else f"arXiv:{pp.arxiv_id}" if pp.arxiv_id else pp.id
        authors = ", ".join(pp.authors[:3]) + (" et al." if len(pp.authors) > 3 else "")
        L.append(f"{ctx['ref_num'][pp.id]}. {e(authors)} ({pp.year or 'n.d.'}). {e(pp.title)}. {ident}. <{pp.link or ''}>")
    L += ["", "Reference files: references.bib, references.ris, references.json (CSL-JSON), references.csv.", ""]
    return "\n".join(L)
