"""The sentence check: every sentence of the model's answer must cite included papers, and the trained verifier
must find support for it in the cited papers' verified quotes. A sentence that cites no paper, cites a paper
outside the included set, or that no cited quote supports is removed, with the reason.

The verifier reads topical closeness generously (a sentence restating the question as a finding passed it against
quotes about a related method), so a supporting quote must also hold most of the sentence's content words
(`MIN_GROUNDING`, by stem): a sentence whose words are mostly the model's own is not grounded in its quotes.

A sentence with no content word beyond the question's ("X improves Y." for "Does X improve Y?") states the verdict,
not a finding; the workbench gives verdicts from the papers' stances (the meter), so such a sentence is removed
whatever a quote scores against it."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from ..records import Paper
from ..text import one_line, stems

MIN_GROUNDING = 0.5  # share of the sentence's content-word stems a supporting quote must hold
_MARK = re.compile(r"\s*\[(\d+(?:\s*[,;–-]\s*\d+)*)\]")


@dataclass
class Sentence:
    """One sentence of the model's answer: its text (citation marks taken out), the papers it cites, and, when
    removed, why; `support` is the verifier's best SUPPORTS probability among the cited quotes."""

    text: str
    cites: list[int]
    kept: bool = False
    reason: str = ""
    support: float | None = None
    supported_by: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def split_citations(text: str, cites: list | None = None) -> tuple[str, list[int]]:
    """The sentence without its "[n]" marks, and every paper it cites (the marks and the `cites` list)."""
    found: list[int] = []
    for c in cites or []:
        if isinstance(c, int) and not isinstance(c, bool) and c not in found:
            found.append(c)
    for m in _MARK.finditer(text):
        for n in re.split(r"\s*[,;–-]\s*", m.group(1)):
            if n and int(n) not in found:
                found.append(int(n))
    clean = one_line(_MARK.sub("", text)).strip()
    return clean, found


def quote_paper(ref: int, quotes: list[str]) -> Paper:
    """A paper whose abstract is the verified quotes of paper [ref], one sentence each, for the verifier."""
    return Paper(id=f"quotes:{ref}", title="", abstract=" ".join(quotes), sentences=list(quotes))


def grounding(sentence: str, quotes: list[str]) -> float:
    """The share of the sentence's content-word stems that occur in `quotes` (1.0 for a sentence without any)."""
    own = stems(sentence)
    return len(own & stems(" ".join(quotes))) / len(own) if own else 1.0


def restates(sentence: str, question: str) -> bool:
    """The sentence has content words and none beyond the question's (by stem; a stem that begins the other's
    counts as the same word: "improv" for "improves", "improve" for "improve")."""
    own, asked = stems(sentence), stems(question)
    return bool(own) and all(any(w == q or (min(len(w), len(q)) >= 4 and (w.startswith(q) or q.startswith(w)))
                                 for q in asked) for w in own)


def check_sentences(raw: list[dict], included: set[int], quotes: dict[int, list[str]], verifier,
                    threshold: float, question: str = "") -> list[Sentence]:
    """Each raw sentence ({"text", "cites"}) checked: citations first, then whether it only restates `question`,
    then the verifier against each cited paper's quotes (the sentence stays, citing only the papers whose quotes
    support it)."""
    out: list[Sentence] = []
    pending: list[tuple[Sentence, list[int]]] = []
    for item in raw:
        text, cites = split_citations(str(item.get("text", "")), item.get("cites"))
        s = Sentence(text, cites)
        out.append(s)
        if len(text) < 8:
            s.reason = "empty or too short to be a sentence"
        elif not cites:
            s.reason = "cites no paper"
        elif outside := [c for c in cites if c not in included]:
            s.reason = f"cites {', '.join(f'[{c}]' for c in outside)}, not an included paper"
        elif question and restates(text, question):
            s.reason = "it only restates the question as its answer (the verdict comes from the papers' stances)"
        elif not (with_quotes := [c for c in cites if quotes.get(c)]):
            s.reason = "no verified quote from the cited paper(s) to check it against"
        else:
            pending.append((s, with_quotes))
    pairs = [(s.text, quote_paper(c, quotes[c])) for s, refs in pending for c in refs]
    verdicts = verifier.verify_many(pairs, cited=True) if pairs else []
    i = 0
    for s, refs in pending:
        best, verified, best_ground = 0.0, 0, 0.0
        for c in refs:
            v = verdicts[i]
            i += 1
            p = float(v.probs.get("SUPPORTS", 0.0))
            best = max(best, p)
            if v.label == "SUPPORTS" and p >= threshold:
                verified += 1
                g = grounding(s.text, quotes[c])
                best_ground = max(best_ground, g)
                if g >= MIN_GROUNDING:
                    s.supported_by.append(c)
        s.support = round(best, 3)
        if s.supported_by:
            s.kept = True
        elif verified:
            s.reason = (f"its words are mostly not in the cited quotes (at most {best_ground:.0%} of its content words; "
                        f"{MIN_GROUNDING:.0%} needed), although the verifier scored them {best:.2f}")
        else:
            s.reason = f"no cited quote supports it (verifier: best support {best:.2f} < {threshold:.2f})"
    return out
