"""Screening: score each record's relevance to the question and apply the params' criteria.

Every record gets a decision (included / excluded) and, when excluded, a reason. Nothing is dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..params import Params
from ..records import Paper
from ..text import QUESTION_FILLER, content_words, phrase_in, stem, stems

SURVEY_TITLE = re.compile(
    r"\bsurvey\b|\b(systematic|literature|scoping|comprehensive|critical|narrative) review\b|\ba review\b|"
    r"\breview of\b|\btutorial\b|\bposition paper\b|\boverview of\b|\bmeta-analysis\b",
    re.I,
)
SURVEY_ABSTRACT = re.compile(
    r"\b(this|our) (survey|systematic review|literature review|review|meta-analysis)\b|\bwe (survey|review)\b", re.I
)


BOILERPLATE = re.compile(
    r"[^.]*\b(code|data|dataset|models?|weights|implementation|project page)s?\b[^.]*\b(is|are|will be|has been|have been)"
    r"\s+(made\s+)?(publicly\s+|freely\s+|open[- ]?sourced?\s+)?(available|released|open[- ]sourced)[^.]*\.?"
    r"|[^.]*https?://\S+[^.]*\.?",
    re.I,
)


def strip_boilerplate(text: str) -> str:
    """Drop availability statements ("Code is available at ...") and URLs, which say nothing about the topic."""
    return BOILERPLATE.sub(" ", text or "")


SEMANTIC_MAX_TOKENS = 64  # word pieces of "title. abstract" for the relevance score (as the arXiv index)


def _store_vectors(papers: list[Paper], texts: list[str]) -> list[np.ndarray | None]:
    """Vectors the search already has for these texts: from the dense scorer of each local corpus the papers
    came from, where this process made one at the same truncation (no vector is computed twice)."""
    from .search import loaded_dense_index
    from .store import store_path

    out: list[np.ndarray | None] = [None] * len(papers)
    corpora = {s.split(":", 1)[1] for p in papers for s in (p.sources or [p.source]) if s.startswith("local:")}
    for name in sorted(corpora):
        index = loaded_dense_index(store_path(name), name)
        if index is None or index.max_length != SEMANTIC_MAX_TOKENS:
            continue
        rows = [i for i, p in enumerate(papers) if out[i] is None and f"local:{name}" in (p.sources or [p.source])]
        for i, vec in zip(rows, index.text_vectors([texts[i] for i in rows]), strict=True):
            out[i] = vec
    return out


def semantic_similarity(question: str, papers: list[Paper]) -> dict[str, float]:
    """Cosine similarity of each paper ("title. abstract", 64 word pieces, as the arXiv index) to the question."""
    if not papers:
        return {}
    from .embed import get_embedder
    from .store import embed_text

    emb = get_embedder(SEMANTIC_MAX_TOKENS)
    q = emb.encode([question])[0]
    texts = [embed_text(p.title, p.abstract) for p in papers]
    vecs = _store_vectors(papers, texts)
    todo = [i for i, v in enumerate(vecs) if v is None]
    if todo:
        for i, v in zip(todo, emb.encode([texts[i] for i in todo]), strict=True):
            vecs[i] = v
    return {p.id: float(v @ q) for p, v in zip(papers, vecs)}


@dataclass
class Decision:
    paper_id: str
    relevance: float
    decision: str  # included | excluded
    reason: str = ""
    matched_groups: int = 0
    rank: int = 0
    excluded_by: str = ""  # "reviewer" when a person excluded it


Criteria = list[list[str]]  # keyword groups: a paper must match at least one keyword of every group


def criteria_sets(params: Params, analysis=None) -> list[Criteria]:
    """What screening requires: the params' own inclusion groups when given (one set); otherwise, with a question
    analysis, the facets of each main sub-question (a paper must match every facet of at least one of them)."""
    if params.criteria.include_any:
        return [params.criteria.include_any]
    if analysis is not None:
        return [sq.facets for sq in analysis.sub_questions if sq.role == "main" and sq.facets]
    return []


def group_hits(text_lower: str, text_stems: set[str], groups: Criteria) -> list[bool]:
    return [any(phrase_in(k, text_lower, text_stems) for k in g) for g in groups]


def relax(sets: list[Criteria], papers: list[Paper], min_count: int) -> tuple[list[Criteria], list[str]]:
    """Derived criteria a corpus cannot meet are relaxed, and said so: a facet that fewer than `min_count` of the
    candidates mention is dropped from its set (a set keeps at least one facet)."""
    texts = [(f"{p.title} {strip_boilerplate(p.abstract)}".lower(), stems(f"{p.title} {p.abstract}"))
             for p in papers if p.abstract.strip()]
    out, notes = [], []
    for i, groups in enumerate(sets, 1):
        counts = [sum(group_hits(low, st, [g])[0] for low, st in texts) for g in groups]
        keep = [g for g, c in zip(groups, counts) if c >= min_count]
        if not keep:
            keep = [groups[counts.index(max(counts))]]
        for g, c in zip(groups, counts):
            if g not in keep:
                notes.append(f"criterion '{g[0]}' of sub-question {i} relaxed: only {c} of {len(texts)} candidates "
                             "mention it")
        out.append(keep)
    return out, notes


SALIENT_MENTIONS = 3  # a keyword group named this often (the title counts twice) is fully salient
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")  # a cheap split: screening reads hundreds of records, and
# counting mentions needs no exact sentences (text.split_sentences, pysbd, is for quoting them whole)


def salience(title: str, abstract: str, groups: Criteria) -> list[float]:
    """For each keyword group, how much the paper is about it: the sentences that name the group (the title
    counting twice) over `SALIENT_MENTIONS`, at most 1. A concept named once in passing ("unlike static
    mixture-of-experts models, ...") scores a third; a paper about it names it in its title or throughout."""
    parts = [(weight, s.lower(), stems(s)) for weight, s in [(2, title), *((1, x) for x in _SENTENCE_END.split(abstract))]
             if s.strip()]
    out = []
    for g in groups:
        n = sum(weight for weight, low, st in parts if any(phrase_in(k, low, st) for k in g))
        out.append(min(1.0, n / SALIENT_MENTIONS))
    return out


def relevance(paper: Paper, params: Params, semantic: float | None = None,
              sets: list[Criteria] | None = None) -> tuple[float, int]:
    """Relevance in [0, 1] and the number of criteria groups matched (of the best-matched set).

    Mix of: share of the question's topical word stems found (title counts double), how salient the
    inclusion-keyword groups are in the paper (`salience`, averaged over the best set's groups), and (when
    given) the dense cosine similarity to the question.
    """
    sets = criteria_sets(params) if sets is None else sets
    q_stems = {stem(w) for w in content_words(params.question) if w not in QUESTION_FILLER}
    abstract = strip_boilerplate(paper.abstract)
    title_stems, body_stems = stems(paper.title), stems(abstract)
    if q_stems:
        coverage = (2 * len(q_stems & title_stems) + len(q_stems & body_stems)) / (3 * len(q_stems))
        coverage = min(1.0, coverage * 1.6)  # a relevant abstract rarely uses every word of the question
    else:
        coverage = 0.0
    text_lower = f"{paper.title} {abstract}".lower()
    all_stems = title_stems | body_stems
    best = max(((sum(group_hits(text_lower, all_stems, g)), g) for g in sets if g),
               key=lambda m: m[0] / len(m[1]), default=None)
    matched = best[0] if best else 0
    group_share = float(np.mean(salience(paper.title, abstract, best[1]))) if best else coverage
    parts = [(coverage, 0.45), (group_share, 0.55)]
    if semantic is not None:
        parts = [(coverage, 0.3), (group_share, 0.4), (max(0.0, min(1.0, (semantic - 0.1) / 0.5)), 0.3)]
    score = sum(v * w for v, w in parts) / sum(w for _, w in parts)
    return round(score, 4), matched


def screen(papers: list[Paper], params: Params, semantic: dict[str, float] | None = None,
           sets: list[Criteria] | None = None, after: set[str] = frozenset()) -> list[Decision]:
    """Decide every record. Order of checks: year range, exclusion keywords, surveys, inclusion criteria (every
    group of at least one set: `sets`, default the params' groups), relevance threshold, then the `max_papers` cap
    over the remaining ranked by relevance; records in `after` (found only by an LLM plan's queries) rank after
    all the others, so the plan can fill places the question's own records leave, never take them."""
    crit = params.criteria
    sets = criteria_sets(params) if sets is None else [s for s in sets if s]
    lo, hi = params.year_range
    decisions: list[Decision] = []
    for p in papers:
        score, matched = relevance(p, params, (semantic or {}).get(p.id), sets)
        d = Decision(p.id, score, "excluded", matched_groups=matched)
        text_lower = f"{p.title} {strip_boilerplate(p.abstract)}".lower()
        bad = next((k for k in crit.exclude_any if k.lower() in text_lower), None)
        hits = [group_hits(text_lower, stems(text_lower), g) for g in sets]
        if not p.abstract.strip():
            d.reason = "no abstract available"
        elif (lo and p.year and p.year < lo) or (hi and p.year and p.year > hi):
            d.reason = f"outside year range ({p.year})"
        elif bad:
            d.reason = f"exclusion keyword: {bad}"
        elif crit.exclude_surveys and (SURVEY_TITLE.search(p.title) or SURVEY_ABSTRACT.search(p.abstract)):
            d.reason = "survey or review (secondary source)"
        elif sets and not any(all(h) for h in hits):
            best = max(range(len(sets)), key=lambda i: sum(hits[i]) / len(sets[i]))
            d.reason = "does not mention: " + ", ".join(g[0] for g, h in zip(sets[best], hits[best]) if not h)
        elif score < crit.min_relevance:
            d.reason = f"relevance {score:.2f} below threshold {crit.min_relevance:.2f}"
        else:
            d.decision = "eligible"
        decisions.append(d)
    eligible = sorted((d for d in decisions if d.decision == "eligible"), key=lambda d: (d.paper_id in after,
                                                                                          -d.relevance))
    for rank, d in enumerate(eligible, 1):
        d.rank = rank
        if rank <= params.max_papers:
            d.decision = "included"
        else:
            d.decision, d.reason = "excluded", f"beyond max_papers={params.max_papers} (ranked {rank}" + (
                "; found only by the LLM plan's queries, which rank after the question's own)"
                if d.paper_id in after else ")")
    return decisions
