"""The evidence-graded answer: what the included papers say about the question, and how sure we are.

Yes/no questions get a Consensus-style distribution over papers (yes / no / mixed / no direct stance);
open questions get the strongest corroborated findings. Too few relevant papers -> "insufficient".
Certainty follows GRADE: start high, rate down for risk of bias, inconsistency, imprecision, indirectness.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field

from ..records import Paper
from ..text import facet_hits
from ..verification.verifier import Verifier

YES_NO = re.compile(r"^\s*(does|do|did|is|are|was|were|can|could|will|would|should|has|have|had)\b", re.I)
LEVELS = ("high", "moderate", "low", "very low")


@dataclass
class Answer:
    status: str  # answered | insufficient | no direct answer
    kind: str  # yes-no | open
    text: str
    certainty: str
    certainty_reasons: list[str] = field(default_factory=list)
    distribution: dict[str, int] = field(default_factory=dict)
    papers_by_stance: dict[str, list[str]] = field(default_factory=dict)
    key_claims: list[str] = field(default_factory=list)
    hypothesis: str = ""
    statements: list[dict] = field(default_factory=list)  # the findings quoted under the answer, with papers

    def to_dict(self) -> dict:
        return asdict(self)


def to_hypothesis(question: str) -> str:
    """'Does X improve Y?' -> 'X improve Y.' (the statement a yes answer affirms)."""
    q = question.strip().rstrip("?").strip()
    q = YES_NO.sub("", q, count=1).strip()
    return (q[0].upper() + q[1:] + ".") if q else question


def certainty(n_papers: int, min_papers: int, preprint_share: float, inconsistent: bool,
              mean_relevance: float) -> tuple[str, list[str]]:
    """GRADE-style certainty: start at high and rate down one level per concern."""
    level, reasons = 0, []
    if preprint_share > 0.5:
        level += 1
        reasons.append(f"risk of bias: {preprint_share:.0%} of the papers are preprints, not peer-reviewed")
    if inconsistent:
        level += 1
        reasons.append("inconsistency: papers disagree")
    if n_papers < 2 * min_papers:
        level += 1
        reasons.append(f"imprecision: only {n_papers} papers bear on the answer")
    if mean_relevance < 0.55:
        level += 1
        reasons.append(f"indirectness: mean relevance of the papers is {mean_relevance:.2f}")
    return LEVELS[min(level, 3)], reasons


def key_statements(claims: list[dict], facets: list[list[str]], threshold: float, n: int = 4,
                   stance: dict[str, str] | None = None) -> list[dict]:
    """The findings to quote under the answer: corroborated first, then those covering more of the question's
    facets, then by confidence; at most one per paper."""
    def rank(c: dict) -> tuple:
        takes_stance = (stance or {}).get(c["claim_id"], "none") != "none"
        corroborated = c["label"] in ("SUPPORTS", "REFUTES") and float(c["confidence"]) >= threshold
        hits = sum(facet_hits(c["claim"], facets)) if facets else 0
        return (not takes_stance, not corroborated, -hits, -float(c["confidence"]))

    out, seen = [], set()
    for c in sorted(claims, key=rank):
        if c["paper_id"] in seen:
            continue
        seen.add(c["paper_id"])
        out.append({"claim_id": c["claim_id"], "paper_id": c["paper_id"], "text": c["claim"], "label": c["label"],
                    "confidence": float(c["confidence"]), "stance": (stance or {}).get(c["claim_id"], "")})
        if len(out) == n:
            break
    return out


def answer(question: str, included: list[Paper], relevance: dict[str, float], claims: list[dict],
           verifier: Verifier, min_papers: int, threshold: float, facets: list[list[str]] | None = None) -> Answer:
    """Grade the answer from the final claims (after a person's review) of the included papers."""
    kind = "yes-no" if YES_NO.match(question) else "open"
    n = len(included)
    preprints = sum(1 for p in included if p.type == "preprint" or (p.venue or "").lower() == "arxiv")
    mean_rel = sum(relevance.get(p.id, 0) for p in included) / n if n else 0.0
    if n < min_papers:
        text = (f"The evidence found does not answer this question: only {n} relevant paper(s) passed screening, "
                f"fewer than the {min_papers} needed to answer.")
        return Answer("insufficient", kind, text, "very low", [f"imprecision: {n} < {min_papers} papers"],
                      {"insufficient": n})
    hypothesis = to_hypothesis(question) if kind == "yes-no" else ""
    stance_by_paper: dict[str, list[str]] = {}
    claim_stance: dict[str, str] = {}
    if kind == "yes-no":
        by_id = {p.id: p for p in included}
        pairs = [(hypothesis, Paper(id=c["claim_id"], title="", abstract=c["claim"], sentences=[c["claim"]]))
                 for c in claims]
        verdicts = verifier.verify_many(pairs) if pairs else []
        for c, v in zip(claims, verdicts):
            stance = ("yes" if v.label == "SUPPORTS" else "no" if v.label == "REFUTES" else "none") \
                if v.confidence >= threshold else "none"
            claim_stance[c["claim_id"]] = stance
            if c["paper_id"] in by_id:
                stance_by_paper.setdefault(c["paper_id"], []).append(stance)
        paper_stance = {}
        for pid, stances in stance_by_paper.items():
            s = {x for x in stances if x != "none"}
            paper_stance[pid] = "mixed" if s == {"yes", "no"} else (s.pop() if s else "none")
        for p in included:
            paper_stance.setdefault(p.id, "none")
        dist = Counter(paper_stance.values())
        groups = {k: sorted(pid for pid, s in paper_stance.items() if s == k) for k in ("yes", "no", "mixed", "none")}
        with_stance = dist["yes"] + dist["no"] + dist["mixed"]
        level, reasons = certainty(with_stance, min_papers, preprints / n, dist["yes"] > 0 and dist["no"] > 0, mean_rel)
        if with_stance < min_papers:
            text = (f"The evidence found does not directly answer this question: of {n} included papers, "
                    f"{with_stance} state a finding that takes a position on it (at confidence ≥ {threshold:.2f}); "
                    f"{min_papers} are needed. The included papers' findings are listed below.")
            status = "no direct answer"
        else:
            verdict = ("Yes" if dist["yes"] >= 2 * max(dist["no"], 1) else "No" if dist["no"] >= 2 * max(dist["yes"], 1)
                       else "Mixed")
            text = (f"{verdict} ({level} certainty): {dist['yes']} papers support it, {dist['no']} contradict it, "
                    f"{dist['mixed']} are mixed, and {dist['none']} take no direct position.")
            status = "answered"
        statements = key_statements(claims, facets or [], threshold, stance=claim_stance)
        return Answer(status, kind, text, level, reasons, {k: dist.get(k, 0) for k in ("yes", "no", "mixed", "none")},
                      groups, [s["claim_id"] for s in statements], hypothesis, statements)
    # open question: report the strongest corroborated findings
    strong = sorted((c for c in claims if c["label"] in ("SUPPORTS", "REFUTES") and float(c["confidence"]) >= threshold),
                    key=lambda c: -float(c["confidence"]))
    contradicted = any(str(c.get("contradiction")).lower() == "true" for c in claims)
    papers_with = {c["paper_id"] for c in strong}
    level, reasons = certainty(len(papers_with), min_papers, preprints / n, contradicted, mean_rel)
    if not strong:
        text = (f"The evidence found does not answer this question directly: {n} relevant papers report "
                f"{len(claims)} findings, but none is corroborated by another paper at confidence ≥ {threshold:.2f}. "
                "Their findings are listed below as single-source statements.")
        statements = key_statements(claims, facets or [], threshold)
        return Answer("no direct answer", kind, text, "very low", reasons + ["no corroborated finding"],
                      {"corroborated": 0, "single-source": len(claims)}, {}, [s["claim_id"] for s in statements],
                      statements=statements)
    text = (f"{len(strong)} findings from {len(papers_with)} papers are corroborated by other papers ({level} certainty); "
            f"the key findings are quoted below. {len(claims) - len(strong)} further findings rest on a single paper.")
    statements = key_statements(claims, facets or [], threshold)
    return Answer("answered", kind, text, level, reasons,
                  {"corroborated": len(strong), "single-source": len(claims) - len(strong)},
                  {"corroborated": sorted(papers_with)}, [s["claim_id"] for s in statements], statements=statements)
