"""Claim verification: label a claim against one abstract (SUPPORTS / REFUTES / NOT ENOUGH INFO).

Interface used by the pipeline and `workbench eval verify`:
    verifier = load_verifier()
    verdict = verifier.verify(claim_text, paper)     # -> Verdict

This file holds the interface and a transparent lexical baseline (also the benchmark baseline).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .records import Paper
from .text import content_words, split_sentences

LABELS = ("SUPPORTS", "REFUTES", "NOT ENOUGH INFO")
NEGATION = frozenset("not no never neither nor without fails fail failed cannot unable lack lacks decrease "
                     "decreases decreased reduce reduces reduced lower worse degrade degrades".split())


@dataclass
class Verdict:
    """The verifier's decision for one (claim, abstract) pair."""

    label: str
    confidence: float  # calibrated probability of `label`
    probs: dict[str, float]
    sentences: list[int] = field(default_factory=list)  # rationale: indices into the abstract's sentences
    evidence: list[str] = field(default_factory=list)  # the rationale sentences' text
    method: str = ""


class Verifier(Protocol):
    name: str

    def verify(self, claim: str, paper: Paper) -> Verdict: ...

    def verify_many(self, pairs: list[tuple[str, Paper]]) -> list[Verdict]: ...


def abstract_sentences(paper: Paper) -> list[str]:
    """The abstract's sentences: the source's own split when given, else pysbd."""
    return list(paper.sentences) if paper.sentences else split_sentences(paper.abstract)


class LexicalVerifier:
    """Baseline: word overlap picks the rationale; a negation mismatch flips to REFUTES. Uncalibrated."""

    name = "lexical-overlap"

    def __init__(self, support_at: float = 0.5) -> None:
        self.support_at = support_at

    def verify(self, claim: str, paper: Paper) -> Verdict:
        claim_words = set(content_words(claim))
        sents = abstract_sentences(paper)
        best_i, best = -1, 0.0
        for i, s in enumerate(sents):
            overlap = len(claim_words & set(content_words(s))) / max(1, len(claim_words))
            if overlap > best:
                best_i, best = i, overlap
        if best_i < 0 or best < self.support_at:
            p_nei = 1.0 - 0.5 * best
            probs = {"SUPPORTS": (1 - p_nei) * 0.7, "REFUTES": (1 - p_nei) * 0.3, "NOT ENOUGH INFO": p_nei}
            return Verdict("NOT ENOUGH INFO", p_nei, probs, method=self.name)
        neg_claim = bool(claim_words & NEGATION)
        neg_sent = bool(set(content_words(sents[best_i])) & NEGATION)
        label = "REFUTES" if neg_claim != neg_sent else "SUPPORTS"
        conf = 0.5 + 0.5 * best
        other = "SUPPORTS" if label == "REFUTES" else "REFUTES"
        probs = {label: conf * 0.9, other: conf * 0.1, "NOT ENOUGH INFO": 1 - conf}
        return Verdict(label, probs[label], probs, [best_i], [sents[best_i]], method=self.name)

    def verify_many(self, pairs: list[tuple[str, Paper]]) -> list[Verdict]:
        return [self.verify(c, p) for c, p in pairs]


def load_verifier(name: str = "default") -> Verifier:
    """The shipped verifier (the lexical baseline until a trained model ships)."""
    return LexicalVerifier()
