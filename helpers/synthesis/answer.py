"""The answer: for each sub-question, what the included papers say, with quotes and a GRADE-style certainty.

- yes/no: a meter over the included papers (yes / no / mixed / not addressed, from each paper's stance) and a
  verdict only when at least `min_stance` papers take a stance;
- open, comparison and how-large: what the papers report, with the range of the quantities they report;
- a sub-question no included paper addresses is said to be unanswered, with the reason and the closest papers.
"Insufficient" is kept for too few included papers. Corroboration of a sub-question's claims by other papers
raises its certainty; it does not gate the answer.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field

from ..question import QuestionAnalysis, SubQuestion
from ..records import Paper
from ..text import facet_hits

LEVELS = ("high", "moderate", "low", "very low")
METER = ("yes", "no", "mixed", "unclear", "not addressed")  # unclear: addressed, but no confident stance
QUOTES = 3


@dataclass
class SubAnswer:
    """The answer to one sub-question."""

    id: str
    question: str
    kind: str
    role: str
    status: str  # answered | no verdict | not answered
    statement: str
    verdict: str = ""  # yes-no: Yes | No | Mixed | ""
    meter: dict[str, int] = field(default_factory=dict)
    papers_by_stance: dict[str, list[str]] = field(default_factory=dict)
    quotes: list[dict] = field(default_factory=list)  # {paper_id, sentence_index, text, stance}
    quantities: list[dict] = field(default_factory=list)  # findings.summary groups
    addressing: list[str] = field(default_factory=list)
    closest: list[str] = field(default_factory=list)
    qualitative: dict[str, list[str]] = field(default_factory=dict)  # papers whose key sentence states no loss / a loss
    reason: str = ""
    certainty: str = ""
    certainty_reasons: list[str] = field(default_factory=list)


@dataclass
class Answer:
    status: str  # answered | partly answered | not answered | insufficient
    kind: str
    text: str
    certainty: str
    certainty_reasons: list[str] = field(default_factory=list)
    sub_answers: list[SubAnswer] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)  # ids of the sub-questions left open

    def to_dict(self) -> dict:
        return asdict(self)


NO_LOSS = re.compile(r"\b(comparable|on par|no (significant )?(loss|drop|degradation)|without (any )?(significant |"
                     r"noticeable |sacrificing )?(loss|drop|degradation|sacrific\w*|compromis\w*)|(maintain|preserv|retain)\w* "
                     r"(the |its |their |comparable |high |strong )?(accuracy|quality|performance|correctness)|"
                     r"lossless|negligible|minimal (loss|drop|degradation)|match(es|ing)? (the )?(full|original|baseline))",
                     re.I)
LOSS = re.compile(r"\b(degrad\w*|drops?|dropped|declin\w*|at the (cost|expense) of|sacrific\w*|hurts?|harms?|"
                  r"(accuracy|quality|performance) (loss|decrease)|loses|lose|worse)\b", re.I)


def tone(sentence: str) -> str:
    """'no loss' when a key sentence says the other side of a trade-off held ("at comparable accuracy"), 'loss'
    when it says it gave way, '' when it says neither (a cue reading, reported with the sentences it rests on)."""
    if NO_LOSS.search(sentence):
        return "no loss"
    return "loss" if LOSS.search(sentence) else ""


def certainty(n_papers: int, preprint_share: float, inconsistent: bool, mean_relevance: float,
              corroborated: int, min_papers: int) -> tuple[str, list[str]]:
    """GRADE-style: start at high, rate down one level per concern, up one for corroboration by other papers."""
    level, reasons = 0, []
    if preprint_share > 0.5:
        level += 1
        reasons.append(f"risk of bias: {preprint_share:.0%} of the papers are preprints, not peer-reviewed")
    if inconsistent:
        level += 1
        reasons.append("inconsistency: papers disagree")
    if n_papers < min_papers:
        level += 1 + (n_papers < 2)
        reasons.append(f"imprecision: only {n_papers} paper(s) bear on it")
    if mean_relevance < 0.55:
        level += 1
        reasons.append(f"indirectness: mean relevance of the papers is {mean_relevance:.2f}")
    if corroborated >= 2 and level > 0:
        level -= 1
        reasons.append(f"rated up: {corroborated} of its findings are corroborated by other retrieved papers")
    return LEVELS[min(level, 3)], reasons


def _ref(ref_num: dict[str, int], pid: str) -> str:
    return f"[{ref_num[pid]}]" if pid in ref_num else f"[{pid}]"


def _quote(ev: dict, stance: str = "") -> dict:
    return {"paper_id": ev["paper_id"], "sentence_index": ev["sentence_index"], "text": ev["text"],
            "score": ev["score"], "stance": stance}


def _best_evidence(evidence: dict, sq_id: str, pids: list[str], facets: list[list[str]] | None = None) -> list[dict]:
    """Each paper's best addressing sentence for the sub-question, best first; with `facets`, the sentences that
    name more of the sub-question's facets are chosen and come first (the quotes that bear most on it)."""
    covered = (lambda e: sum(facet_hits(e["text"], facets))) if facets else (lambda e: 0)
    best = []
    for pid in pids:
        ev = [e for e in evidence.get(sq_id, {}).get(pid, []) if e["addresses"]]
        if ev:  # the paper's sentence that names most facets, then the best ranked
            best.append(min(ev, key=lambda e: (-covered(e), -e["score"])))
    return sorted(best, key=lambda e: (-covered(e), -e["score"]))


def _value(v: float, unit: str) -> str:
    return f"{v:g}{unit}" if unit in ("×", "%") else f"{v:g} {unit}"


def _quantity_phrase(groups: list[dict]) -> str:
    parts = []
    for g in groups[:3]:
        unit = g["unit"]
        fmt = lambda v, u=unit: _value(v, u)  # noqa: E731
        rng = fmt(g["min"]) if g["min"] == g["max"] else f"{fmt(g['min'])} to {fmt(g['max'])}"
        way = {"increase": " higher", "decrease": " lower"}.get(g["direction"], "")
        if g["metric"] == "speed-up" or unit == "×":
            way = ""
        parts.append(f"{g['metric']}{way}: {rng} (median {fmt(g['median'])}, {g['papers']} paper"
                     f"{'s' if g['papers'] != 1 else ''})")
    return "; ".join(parts)


def _qualitative(best: list[dict]) -> dict[str, list[str]]:
    """The papers whose key sentence states no loss, and those whose key sentence states a loss."""
    return {k: sorted(e["paper_id"] for e in best if tone(e["text"]) == k) for k in ("no loss", "loss")}


def _tone_phrase(qualitative: dict[str, list[str]], ref_num: dict[str, int]) -> str:
    if not any(qualitative.values()):
        return ""
    refs = {k: ", ".join(_ref(ref_num, i) for i in v) for k, v in qualitative.items()}
    n = len(qualitative["no loss"])
    return (f" Of their key sentences, {n} {'states' if n == 1 else 'state'} no loss (comparable, maintained or better "
            f"accuracy or quality{': ' + refs['no loss'] if refs['no loss'] else ''}) and {len(qualitative['loss'])} a loss"
            + (f" ({refs['loss']})" if refs["loss"] else "") + ".")


def answer_sub_question(sq: SubQuestion, included: list[Paper], relevance: dict[str, float], evidence: dict,
                        stances: dict, findings: dict, claims: list[dict], ref_num: dict[str, int],
                        min_papers: int, min_stance: int, threshold: float) -> SubAnswer:
    """One sub-question's answer from the run's reading of the included papers."""
    ids = [p.id for p in included]
    addressing = [pid for pid in ids if any(e["addresses"] for e in evidence.get(sq.id, {}).get(pid, []))]
    preprints = sum(1 for p in included if p.id in addressing and (p.type == "preprint" or (p.venue or "").lower() == "arxiv"))
    mean_rel = sum(relevance.get(pid, 0) for pid in addressing) / len(addressing) if addressing else 0.0
    corroborated = sum(1 for c in claims if sq.id in str(c.get("sub_question", "")).split(";")
                       and c["label"] in ("SUPPORTS", "REFUTES") and float(c["confidence"]) >= threshold)
    head = f"{sq.id} ({sq.text})"
    sa = SubAnswer(sq.id, sq.text, sq.kind, sq.role, "not answered", "", addressing=addressing)
    if not addressing:
        scored = sorted(((max((e["score"] for e in evidence.get(sq.id, {}).get(pid, [])), default=0.0), pid)
                         for pid in ids), reverse=True)
        sa.closest = [pid for _, pid in scored[:3]]
        facets = sq.facets[:1] if sq.role == "condition" else sq.facets  # a condition: its own concept
        mentions = {f[0]: sum(facet_hits(f"{p.title}. {p.abstract}", [f])[0] for p in included) for f in facets}
        missing = [f for f, n in mentions.items() if n == 0]
        if missing:
            sa.reason = (f"no included paper studies it: none of the {len(ids)} mentions "
                         + " or ".join(f"'{m}'" for m in missing))
        else:
            sa.reason = ("no included paper studies it: " + "; ".join(f"{n} of the {len(ids)} mention '{f}'"
                                                                      for f, n in mentions.items())
                         + (" in passing, and none states a finding about it" if len(facets) == 1 else
                            ", but none states a finding on them together"))
        sa.statement = (f"{head} cannot be answered from the included papers: {sa.reason}. Closest papers: "
                        + (", ".join(_ref(ref_num, pid) for pid in sa.closest) or "none") + ".")
        sa.certainty = "very low"
        return sa
    if sq.kind == "yes-no":
        by_paper = stances.get(sq.id, {})
        labels = {pid: by_paper.get(pid, {}).get("label", "not addressed") for pid in ids}
        meter = Counter(labels.values())
        sa.meter = {k: int(meter.get(k, 0)) for k in METER}
        sa.papers_by_stance = {k: sorted(pid for pid, s in labels.items() if s == k) for k in METER}
        taking = sa.meter["yes"] + sa.meter["no"] + sa.meter["mixed"]
        yes, no = sa.meter["yes"], sa.meter["no"]
        tally = (f"{yes} of {len(ids)} included papers say yes, {no} no, {sa.meter['mixed']} mixed"
                 + (f", {sa.meter['unclear']} address it without a clear stance" if sa.meter["unclear"] else "")
                 + f"; {sa.meter['not addressed']} do not address it")
        top = sorted((pid for pid in ids if labels[pid] in ("yes", "no", "mixed", "unclear")),
                     key=lambda pid: (labels[pid] == "unclear", -by_paper[pid]["confidence"]))
        best = {e["paper_id"]: e for e in _best_evidence(evidence, sq.id, top, sq.facets)}
        if taking >= min_stance:
            sa.verdict = ("Yes" if yes >= 2 * max(no, 1) else "No" if no >= 2 * max(yes, 1) else "Mixed")
            sa.status = "answered"
            side = " (for this side effect, 'no' is what the question hopes for)" if sq.role == "side effect" else ""
            sa.statement = f"{head}: {sa.verdict}{side}. {tally}."
            lead = {"Yes": "yes", "No": "no"}.get(sa.verdict)
            order = sorted(top, key=lambda pid: (labels[pid] != lead if lead else 0, -by_paper[pid]["confidence"]))
        else:
            sa.status = "no verdict"
            sa.statement = (f"{head}: no verdict: only {taking} included paper(s) take a stance ({min_stance} needed). "
                            f"{tally}.")
            order = top
        sa.quotes = [_quote(best[pid], labels[pid]) for pid in order if pid in best][:QUOTES]
        # what the key sentences say of a loss, beside the stances (a cue reading, not the stance model)
        sa.qualitative = _qualitative(list(best.values()))
        sa.statement += _tone_phrase(sa.qualitative, ref_num).replace(" Of their key", " Of the addressing papers' key")
        inconsistent = yes > 0 and no > 0 and min(yes, no) / max(yes, no) >= 0.25
        sa.certainty, sa.certainty_reasons = certainty(taking, preprints / len(addressing), inconsistent, mean_rel,
                                                       corroborated, min_papers)
        return sa
    sa.status = "answered"
    sa.quantities = findings.get(sq.id, [])
    best = _best_evidence(evidence, sq.id, addressing, sq.facets)
    sa.quotes = [_quote(e) for e in best][:QUOTES]
    sa.qualitative = _qualitative(best)
    reported = f" They report {_quantity_phrase(sa.quantities)}." if sa.quantities else \
        " They state no comparable numbers; their key sentences are quoted."
    reported += _tone_phrase(sa.qualitative, ref_num)
    sa.statement = (f"{head}: {len(addressing)} of {len(ids)} included papers address it "
                    f"({', '.join(_ref(ref_num, pid) for pid in addressing)}).{reported}")
    sa.certainty, sa.certainty_reasons = certainty(len(addressing), preprints / len(addressing), False, mean_rel,
                                                   corroborated, min_papers)
    return sa


def answer(analysis: QuestionAnalysis, included: list[Paper], relevance: dict[str, float], evidence: dict,
           stances: dict, findings: dict, claims: list[dict], ref_num: dict[str, int], min_papers: int,
           threshold: float, min_stance: int = 3) -> Answer:
    """The graded answer from the run's files (claims after a person's review)."""
    n = len(included)
    if n < min_papers:
        text = (f"The evidence found does not answer this question: only {n} relevant paper(s) passed screening, "
                f"fewer than the {min_papers} needed to answer.")
        return Answer("insufficient", analysis.kind, text, "very low", [f"imprecision: {n} < {min_papers} papers"],
                      unanswered=[sq.id for sq in analysis.sub_questions])
    subs = [answer_sub_question(sq, included, relevance, evidence, stances, findings, claims, ref_num, min_papers,
                                min_stance, threshold) for sq in analysis.sub_questions]
    answered = [s for s in subs if s.status == "answered"]
    open_ = [s.id for s in subs if s.status != "answered"]
    status = ("answered" if not open_ else "partly answered" if answered else "not answered")
    levels = [LEVELS.index(s.certainty) for s in answered]
    overall = LEVELS[max(levels)] if levels else "very low"
    reasons = sorted({r for s in answered for r in s.certainty_reasons if not r.startswith("rated up")})
    text = " ".join(s.statement for s in subs)
    return Answer(status, analysis.kind, text, overall, reasons, subs, open_)
