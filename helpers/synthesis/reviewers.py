"""Independent automated reviewers: each scores the synthesis on its own explicit rubric.

Each reviewer sees only the run's artefacts (never another reviewer's output) and returns item scores
(0-10) with a one-line reason each, plus a 0-10 rating per claim (the units they share), so agreement
between reviewers is measured with Krippendorff's alpha over those claim ratings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from statistics import mean, pstdev

import numpy as np

from ..text import facet_hits


@dataclass
class Item:
    name: str
    score: float | None  # 0-10; None when the item cannot be assessed on this run (left out of the mean)
    reason: str
    weight: float = 1.0


@dataclass
class ReviewerReport:
    reviewer: str
    rubric: str
    items: list[Item]
    claim_ratings: dict[str, float] = field(default_factory=dict)

    @property
    def score(self) -> float:
        """Weighted mean of the assessable items."""
        rated = [i for i in self.items if i.score is not None]
        total = sum(i.weight for i in rated)
        return round(sum(i.score * i.weight for i in rated) / total, 2) if total else 0.0

    def to_dict(self) -> dict:
        return {"reviewer": self.reviewer, "rubric": self.rubric, "score": self.score,
                "items": [asdict(i) for i in self.items], "claim_ratings": self.claim_ratings}


@dataclass
class Synthesis:
    """What the reviewers look at: plain data read from `outputs/<slug>/`."""

    question: str
    facets: list[list[str]]  # each facet: keywords that express it
    min_papers: int
    support_threshold: float
    papers: list[dict]  # every screened record: id, title, year, decision, relevance, venue/type, sources
    claims: list[dict]  # claims.csv rows (final, after a person's review)
    prisma: dict
    failed_sources: dict[str, str | None] = field(default_factory=dict)
    answer: dict = field(default_factory=dict)  # answer.json

    @property
    def included(self) -> list[dict]:
        return [p for p in self.papers if p["decision"] == "included"]


def _clip(x: float) -> float:
    return round(max(0.0, min(10.0, x)), 2)


REVIEWERS: dict[str, Callable[[Synthesis], ReviewerReport]] = {}


def reviewer(name: str) -> Callable:
    def deco(fn: Callable[[Synthesis], ReviewerReport]) -> Callable[[Synthesis], ReviewerReport]:
        REVIEWERS[name] = fn
        return fn

    return deco


@reviewer("answer")
def answer_reviewer(s: Synthesis) -> ReviewerReport:
    """Does the answer answer the question: its sub-questions, from papers that address it, consistently?"""
    rubric = "whether the answer answers: sub-questions answered, papers addressing them, agreement of stances"
    subs = s.answer.get("sub_answers") or []
    if s.answer.get("status") == "insufficient" or not subs:
        return ReviewerReport("answer", rubric, [Item("sub-questions answered", 0, s.answer.get("text", "no answer")),
                                                 Item("papers addressing the question", 0, "no paper to address it")])
    answered = [a for a in subs if a["status"] == "answered"]
    open_ = [a["id"] for a in subs if a["status"] != "answered"]
    inc = {p["id"] for p in s.included}
    addressing = {pid for a in subs if a["role"] != "condition" for pid in a["addressing"]} & inc
    items = [
        Item("sub-questions answered", _clip(10 * len(answered) / len(subs)),
             f"{len(answered)} of {len(subs)} sub-questions answered" + (f"; open: {', '.join(open_)}" if open_ else ""),
             weight=2.0),
        Item("papers addressing the question", _clip(10 * len(addressing) / max(1, len(inc))),
             f"{len(addressing)} of {len(inc)} included papers have a sentence that addresses a sub-question"),
    ]
    verdicts = [a for a in answered if a["kind"] == "yes-no" and sum(a["meter"].get(k, 0) for k in ("yes", "no", "mixed"))]
    if verdicts:
        shares = []
        for a in verdicts:
            taking = [a["meter"][k] for k in ("yes", "no", "mixed")]
            shares.append(max(taking) / sum(taking))
        items.append(Item("stances agree", _clip(10 * mean(shares)),
                          "; ".join(f"{a['id']}: {max(a['meter'][k] for k in ('yes', 'no', 'mixed'))} of "
                                    f"{sum(a['meter'][k] for k in ('yes', 'no', 'mixed'))} stances agree" for a in verdicts)))
    else:
        items.append(Item("stances agree", None, "no yes/no sub-question with a verdict: agreement cannot be judged (not scored)"))
    ratings = {c["claim_id"]: _clip(10 * float(c.get("answer_score") or 0)) for c in s.claims}
    return ReviewerReport("answer", rubric, items, ratings)


@reviewer("relevance")
def relevance_reviewer(s: Synthesis) -> ReviewerReport:
    """Are the included papers and claims about the question?"""
    inc = s.included
    if not inc:
        return ReviewerReport("relevance", "topicality of included papers and claims",
                              [Item("on-topic papers", 0, "no paper passed screening"),
                               Item("enough relevant papers", 0, f"0 of the {s.min_papers} papers needed")])
    rel = [float(p["relevance"]) for p in inc]
    strong = sum(r >= 0.5 for r in rel)
    items = [
        Item("on-topic papers", _clip(10 * (mean(rel) - 0.3) / 0.5),
             f"mean relevance of {len(inc)} included papers is {mean(rel):.2f} (0.30 scores 0, 0.80+ full marks)"),
        Item("strongly relevant share", _clip(10 * strong / len(inc)),
             f"{strong} of {len(inc)} included papers have relevance ≥ 0.50"),
        Item("enough relevant papers", _clip(10 * len(inc) / max(s.min_papers * 2, 1)),
             f"{len(inc)} papers included; {s.min_papers} is the minimum to answer, {2 * s.min_papers} scores full marks"),
    ]
    ratings = {}
    for c in s.claims:
        hits = facet_hits(c["claim"], s.facets) if s.facets else []
        ratings[c["claim_id"]] = _clip(10 * (sum(hits) / len(hits) if hits else 0.5))
    if s.claims:
        on = sum(v >= 5 for v in ratings.values())
        items.append(Item("on-topic claims", _clip(10 * on / len(ratings)),
                          f"{on} of {len(ratings)} claims mention at least half of the question's facets"))
    else:
        items.append(Item("on-topic claims", 0, "no claims were extracted"))
    return ReviewerReport("relevance", "topicality of included papers and claims", items, ratings)


@reviewer("evidence")
def evidence_reviewer(s: Synthesis) -> ReviewerReport:
    """GRADE-style strength of evidence: corroboration, consistency, precision, risk of bias."""
    claims = s.claims
    if not claims:
        return ReviewerReport("evidence", "GRADE-style strength and consistency of evidence",
                              [Item("corroboration", 0, "no claims to corroborate"),
                               Item("precision", 0, f"{len(s.included)} papers included")])
    decided = [c for c in claims if c["label"] in ("SUPPORTS", "REFUTES")
               and float(c["confidence"]) >= s.support_threshold]
    contradicted = [c for c in claims if str(c.get("contradiction")).lower() == "true"]
    inc = s.included
    preprint = sum(1 for p in inc if (p.get("type") or "") == "preprint" or "arxiv" in (p.get("source") or ""))
    multi_source = sum(1 for p in inc if len(str(p.get("source", "")).split(";")) > 1)
    items = [
        Item("corroboration", _clip(10 * len(decided) / len(claims)),
             f"{len(decided)} of {len(claims)} claims are supported or refuted by another paper at confidence ≥ {s.support_threshold:.2f}",
             weight=2.0),
        Item("consistency", _clip(10 - 20 * len(contradicted) / len(decided)) if len(decided) >= 2 else None,
             f"{len(contradicted)} of {len(decided)} corroborated claims have both supporting and contradicting papers"
             if len(decided) >= 2 else f"only {len(decided)} corroborated claim(s): consistency cannot be judged (not scored)"),
        Item("precision", _clip(10 * min(len(inc), 3 * s.min_papers) / (3 * s.min_papers)),
             f"{len(inc)} included papers ({3 * s.min_papers} scores full marks)"),
        Item("risk of bias", _clip(10 - 6 * preprint / max(1, len(inc)) + 2 * multi_source / max(1, len(inc))),
             f"{preprint} of {len(inc)} included papers are preprints (not peer-reviewed); {multi_source} found in several sources"),
    ]
    ratings = {}
    for c in claims:
        conf = float(c["confidence"])
        if c["label"] in ("SUPPORTS", "REFUTES") and conf >= s.support_threshold:
            ratings[c["claim_id"]] = _clip(4 + 6 * conf)
        else:
            ratings[c["claim_id"]] = _clip(3 * (1 - conf))
    return ReviewerReport("evidence", "GRADE-style strength and consistency of evidence", items, ratings)


@reviewer("coverage")
def coverage_reviewer(s: Synthesis) -> ReviewerReport:
    """Does the evidence cover every facet of the question?"""
    if not s.facets:
        return ReviewerReport("coverage", "facets of the question covered", [Item("facets", 5, "no facets defined in params")])
    names = [g[0] for g in s.facets]
    paper_cov = [any(h) for h in zip(*[facet_hits(f"{p['title']} {p.get('abstract', '')}", s.facets)
                                       for p in s.included])] if s.included else [False] * len(names)
    claim_hits = [facet_hits(c["claim"], s.facets) for c in s.claims]
    claim_cov = [any(h) for h in zip(*claim_hits)] if claim_hits else [False] * len(names)
    joint = [all(h) for h in claim_hits]
    items = [
        Item("facets in included papers", _clip(10 * sum(paper_cov) / len(names)),
             "covered: " + (", ".join(n for n, c in zip(names, paper_cov) if c) or "none")
             + "; missing: " + (", ".join(n for n, c in zip(names, paper_cov) if not c) or "none")),
        Item("facets in claims", _clip(10 * sum(claim_cov) / len(names)),
             "claims speak to: " + (", ".join(n for n, c in zip(names, claim_cov) if c) or "nothing")),
        Item("claims joining all facets", _clip(20 * sum(joint) / max(1, len(claim_hits))),
             f"{sum(joint)} of {len(claim_hits)} claims address every facet at once (what the question asks about)"),
    ]
    ratings = {c["claim_id"]: _clip(10 * sum(h) / len(h)) for c, h in zip(s.claims, claim_hits)}
    return ReviewerReport("coverage", "facets of the question covered", items, ratings)


@reviewer("transparency")
def transparency_reviewer(s: Synthesis) -> ReviewerReport:
    """Is everything traceable: claims to sentences, counts consistent, sources reported?"""
    inc_ids = {p["id"] for p in s.included}
    traced = [c for c in s.claims if c["paper_id"] in inc_ids and str(c.get("sentence_index", "")) != ""]
    p = s.prisma
    adds_up = p.get("screened") == p.get("excluded_automation_total", 0) + p.get("excluded_reviewer_total", 0) + p.get("included", -1)
    matches = p.get("included") == len(s.included)
    with_link = sum(1 for q in s.included if q.get("url") or q.get("doi") or q.get("arxiv_id"))
    items = [
        Item("claims traceable", _clip(10 * len(traced) / len(s.claims)) if s.claims else 0,
             f"{len(traced)} of {len(s.claims)} claims point to an included paper and a sentence index"),
        Item("counts consistent", 10 if adds_up and matches else 0,
             "PRISMA counts add up and match papers.csv" if adds_up and matches else "PRISMA counts do not add up"),
        Item("references resolvable", _clip(10 * with_link / len(s.included)) if s.included else 0,
             f"{with_link} of {len(s.included)} references carry a DOI, arXiv id or URL"),
        Item("failures reported", 10 if not s.failed_sources else 6,
             "all sources answered" if not s.failed_sources else
             f"failed sources reported: {', '.join(s.failed_sources)} (records missing)"),
    ]
    ratings = {}
    for c in s.claims:
        ev = [e for e in str(c.get("evidence_paper_ids") or "").split(";") if e]
        ratings[c["claim_id"]] = _clip((5 if c["paper_id"] in inc_ids else 0) + min(5, 2.5 * len(ev)))
    return ReviewerReport("transparency", "provenance, consistent counts, reported failures", items, ratings)


def krippendorff_alpha(reports: list[ReviewerReport]) -> float | None:
    """Interval Krippendorff's alpha over the claims all reviewers rated (None if undefined)."""
    import krippendorff

    units = sorted(set.intersection(*(set(r.claim_ratings) for r in reports))) if reports else []
    rated = [r for r in reports if r.claim_ratings]
    if len(units) < 2 or len(rated) < 2:
        return None
    data = np.array([[r.claim_ratings[u] for u in units] for r in rated], dtype=float)
    if np.all(data == data.flat[0]):
        return 1.0
    try:
        return round(float(krippendorff.alpha(reliability_data=data, level_of_measurement="interval")), 3)
    except (ValueError, ZeroDivisionError):
        return None


# The answer and evidence reviewers weigh double: a synthesis is worth what it answers, and only as good as the
# support for its findings (GRADE).
REVIEWER_WEIGHTS = {"answer": 2.0, "evidence": 2.0}
# An answer that does not answer cannot score well, whatever the other reviewers find.
SCORE_CAPS = {"insufficient": 3.0, "not answered": 4.0}


def review(s: Synthesis, names: list[str] | None = None) -> dict:
    """Run every reviewer independently and summarise: per reviewer, overall, spread, agreement."""
    reports = [REVIEWERS[n](s) for n in (names or list(REVIEWERS))]
    scores = [r.score for r in reports]
    weights = [REVIEWER_WEIGHTS.get(r.reviewer, 1.0) for r in reports]
    alpha = krippendorff_alpha(reports)
    overall = round(sum(x * w for x, w in zip(scores, weights)) / sum(weights), 2) if scores else 0.0
    cap = SCORE_CAPS.get(s.answer.get("status", ""))
    capped = cap is not None and overall > cap
    return {
        "reviewers": [{**r.to_dict(), "weight": w} for r, w in zip(reports, weights)],
        "overall": min(overall, cap) if capped else overall,
        "cap": ({"at": cap, "uncapped": overall, "why": f"the answer's status is '{s.answer['status']}': a report that "
                 f"does not answer scores at most {cap:g}/10"} if capped else None),
        "spread": {"min": min(scores), "max": max(scores), "sd": round(pstdev(scores), 2)} if scores else {},
        "agreement": {"krippendorff_alpha": alpha, "level": "interval", "units": "claims",
                      "reading": ("reliable (≥ 0.8)" if alpha is not None and alpha >= 0.8 else
                                  "tentative (≥ 0.667)" if alpha is not None and alpha >= 0.667 else
                                  "low (< 0.667): reviewers disagree on which claims are strong" if alpha is not None
                                  else "undefined (fewer than 2 claims)")},
        "scale": ("0-10 per item; reviewer score = weighted mean of its assessable items (answer: sub-questions "
                  "answered x2; evidence: corroboration x2); overall = weighted mean of reviewers (answer x2, evidence "
                  "x2, others x1), at most 3 when the evidence is insufficient and 4 when no sub-question is answered"),
    }
