"""Claim verification: label a claim against one abstract (SUPPORTS / REFUTES / NOT ENOUGH INFO).

Interface used by the pipeline and `workbench eval verify`:
    verifier = load_verifier()
    verdict = verifier.verify(claim_text, paper)     # -> Verdict

This file holds the interface, the trained `NliVerifier` (the default: an int8 ONNX MiniLM cross-encoder
scoring each claim–sentence pair, aggregated to an abstract verdict with calibrated probabilities) and a
transparent lexical baseline (the benchmark baseline).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ModelError
from .records import Paper
from .text import content_words, paper_sentences

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


class LexicalVerifier:
    """Baseline: word overlap picks the rationale; a negation mismatch flips to REFUTES. Uncalibrated."""

    name = "lexical-overlap"

    def __init__(self, support_at: float = 0.5) -> None:
        self.support_at = support_at

    def verify(self, claim: str, paper: Paper) -> Verdict:
        claim_words = set(content_words(claim))
        sents = paper_sentences(paper)
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


@dataclass
class Calibration:
    """Fitted on the SciFact validation split (training/verifier/calibrate.py)."""

    temperature: float = 1.0  # sentence-level softmax temperature
    rationale_threshold: float = 0.5  # a sentence is a rationale when P(label) >= this
    evidence_threshold: float = 0.5  # an abstract gets SUPPORTS/REFUTES only when its probability >= this
    coef: list[list[float]] = field(default_factory=lambda: [[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    intercept: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    meta: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Calibration:
        if not path.exists():
            raise ModelError(f"{path}: verifier calibration file missing")
        try:
            return cls(**json.loads(path.read_text()))
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{path}: unreadable calibration: {exc}") from exc

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def abstract_features(sent_probs: np.ndarray) -> np.ndarray:
    """Evidence strength of one abstract: logit of the best sentence's P(SUPPORTS) and P(REFUTES)."""
    if len(sent_probs) == 0:
        return np.array([-14.0, -14.0])
    return _logit(sent_probs[:, :2].max(axis=0))


def abstract_probs(sent_probs: np.ndarray, cal: Calibration) -> np.ndarray:
    """Calibrated P(SUPPORTS, REFUTES, NEI) for one abstract (multinomial logistic over the features)."""
    z = np.asarray(cal.coef) @ abstract_features(sent_probs) + np.asarray(cal.intercept)
    e = np.exp(z - z.max())
    return e / e.sum()


def decide(sent_probs: np.ndarray, sentences: list[str], cal: Calibration, method: str = "") -> Verdict:
    """Abstract verdict from sentence probabilities: rationale selection, label, abstention."""
    probs = abstract_probs(sent_probs, cal)
    prob_map = dict(zip(LABELS, map(float, probs), strict=True))
    k = int(np.argmax(probs[:2]))
    best = float(sent_probs[:, k].max()) if len(sent_probs) else 0.0
    if probs[k] < cal.evidence_threshold or best < cal.rationale_threshold:  # weak evidence: abstain
        return Verdict("NOT ENOUGH INFO", prob_map["NOT ENOUGH INFO"], prob_map, method=method)
    order = np.argsort(-sent_probs[:, k])
    chosen = [int(i) for i in order[:3] if sent_probs[i, k] >= cal.rationale_threshold] or [int(order[0])]
    chosen.sort()
    return Verdict(LABELS[k], prob_map[LABELS[k]], prob_map, chosen, [sentences[i] for i in chosen], method=method)


class NliVerifier:
    """Trained verifier: int8 ONNX MiniLM cross-encoder over (claim, sentence) pairs + calibrated aggregation."""

    name = "nli-minilm"

    def __init__(self, folder: Path | None = None, threads: int = 0) -> None:
        from .nli import CrossEncoder, model_dir

        folder = Path(folder or model_dir())
        self.encoder = CrossEncoder(folder, threads=threads)
        self.calibration = Calibration.load(folder / "calibration.json")

    def sentence_probs(self, pairs: list[tuple[str, Paper]]) -> list[tuple[np.ndarray, list[str]]]:
        """Per pair: temperature-scaled (n_sentences, 3) probabilities and the sentences, in one batched pass."""
        from .nli import softmax

        sents = [paper_sentences(p) for _, p in pairs]
        flat = [(claim, s) for (claim, _), ss in zip(pairs, sents, strict=True) for s in ss]
        probs = softmax(self.encoder.logits(flat), self.calibration.temperature)
        out, start = [], 0
        for ss in sents:
            out.append((probs[start:start + len(ss)], ss))
            start += len(ss)
        return out

    def verify(self, claim: str, paper: Paper) -> Verdict:
        return self.verify_many([(claim, paper)])[0]

    def verify_many(self, pairs: list[tuple[str, Paper]]) -> list[Verdict]:
        return [decide(p, s, self.calibration, self.name) for p, s in self.sentence_probs(pairs)]


def corroborate(verifier: Verifier, claim: str, papers: list[Paper]) -> list[Verdict]:
    """Check one claim against several papers (one batched call), verdicts in the papers' order."""
    return verifier.verify_many([(claim, p) for p in papers])


def tally(verdicts: list[Verdict]) -> dict[str, int]:
    """How many papers support / refute / say nothing about a claim."""
    return {label: sum(v.label == label for v in verdicts) for label in LABELS}


def load_verifier(name: str = "default") -> Verifier:
    """The shipped verifier: "default"/"nli" = trained cross-encoder (ModelError if its files are missing),
    "lexical" = the word-overlap baseline."""
    if name in ("default", "nli", NliVerifier.name):
        return NliVerifier()
    if name in ("lexical", LexicalVerifier.name):
        return LexicalVerifier()
    raise ValueError(f"unknown verifier '{name}' (known: nli, lexical)")
