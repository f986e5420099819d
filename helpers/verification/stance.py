"""A paper's stance on a yes/no question: yes / no / mixed, with a calibrated confidence ("not addressed" is
decided from the question-focused evidence: a paper none of whose sentences addresses the question).

The model (models/stance/stance.json, fitted by training/stance/fit.py on PubMedQA-L, out of fold) is a
multinomial logistic regression over what the trained verifier reads in the abstract: each sentence's relevance
to the question's hypothesis and the direction of the most relevant ones and of the second half of the abstract,
where findings are stated, plus cues of significance, of no effect and of hedging, and the question's form. Its
probabilities are temperature-calibrated out of fold. PubMedQA's "maybe" is read as "mixed".
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import config
from ..errors import ModelError
from ..records import Paper
from ..text import paper_sentences

ANSWERS = ("yes", "no", "maybe")
READING = {"yes": "yes", "no": "no", "maybe": "mixed"}
NOSIG = re.compile(r"\b(no (statistically )?significant|not (statistically )?significant(ly)?|did not|does not|do not|"
                   r"was not|were not|no differences?|similar|no association|not associated|no effect|"
                   r"no correlation|failed to|neither|comparable)\b", re.I)
SIG = re.compile(r"\b(significant(ly)?|increased|decreased|higher|lower|improved|reduced|associated with|correlated|"
                 r"predict\w*|effective)\b", re.I)
HEDGE = re.compile(r"\b(may|might|could|unclear|limited|however|although|but|trend|tended|marginal(ly)?|borderline)\b",
                   re.I)
PVAL = re.compile(r"p\s*[<=]\s*0?\.0\d", re.I)
PNS = re.compile(r"p\s*[>=]\s*0?\.[1-9]|\bns\b|n\.s\.", re.I)
FEATURES = ("relevance max", "direction top 3", "direction second half (weighted)", "direction second half",
            "direction max", "direction min", "no-effect cues", "significance cues", "hedges", "p < .05",
            "p not significant", "no-effect cues top 3", "question negated", "question is/are", "question does/do",
            "question can/should", "sentences (log)")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def features(question: str, sentences: Sequence[str], relevance: np.ndarray, p_refutes: np.ndarray) -> list[float]:
    """The stance features of one abstract (`FEATURES`): `relevance` and `p_refutes` per sentence, from the
    verifier's 3-way and direction models on (hypothesis, sentence)."""
    rel, pr, n = np.asarray(relevance, dtype=float), np.asarray(p_refutes, dtype=float), len(sentences)
    if n == 0:
        return [0.0] * len(FEATURES)
    half = list(range(n // 2, n))
    top = np.argsort(-rel)[:3]
    w_top, w_half = rel[top] + 1e-6, rel[half] + 1e-6
    tail = " ".join(sentences[i] for i in half)
    tops = " ".join(sentences[i] for i in top)
    return [float(_logit(rel.max())), float(np.sum(w_top * _logit(pr[top])) / w_top.sum()),
            float(np.sum(w_half * _logit(pr[half])) / w_half.sum()), float(_logit(pr[half]).mean()),
            float(_logit(pr).max()), float(_logit(pr).min()),
            len(NOSIG.findall(tail)), len(SIG.findall(tail)), len(HEDGE.findall(tail)), len(PVAL.findall(tail)),
            len(PNS.findall(tail)), len(NOSIG.findall(tops)),
            1.0 if re.search(r"\bnot\b|n't", question) else 0.0,
            1.0 if re.match(r"^\s*(is|are|was|were)\b", question, re.I) else 0.0,
            1.0 if re.match(r"^\s*(does|do|did)\b", question, re.I) else 0.0,
            1.0 if re.match(r"^\s*(can|could|should|will|would)\b", question, re.I) else 0.0,
            float(np.log1p(n))]


@dataclass
class Stance:
    """One paper's stance on one yes/no question."""

    label: str  # yes | no | mixed | not addressed
    confidence: float  # calibrated probability of `label`
    probs: dict[str, float]  # yes / no / maybe
    method: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class StanceHead:
    """The fitted logistic head over `FEATURES` (standardisation folded in) and its temperature."""

    weights: list[list[float]]  # 3 x len(FEATURES)
    intercept: list[float]
    temperature: float = 1.0
    features: list[str] = field(default_factory=lambda: list(FEATURES))
    meta: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, features: Sequence[str] = FEATURES) -> StanceHead:
        """The head at `path`, fitted on `features` (`ModelError` naming the file otherwise)."""
        if not path.exists():
            raise ModelError(f"{path}: stance model missing (fit it: python -m training.stance.fit)")
        try:
            head = cls(**json.loads(path.read_text()))
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{path}: unreadable stance model: {exc}") from exc
        if list(head.features) != list(features):
            raise ModelError(f"{path}: features: fitted on {head.features}, the code reads {list(features)}")
        if np.asarray(head.weights).shape != (3, len(features)) or len(head.intercept) != 3 or head.temperature <= 0:
            raise ModelError(f"{path}: expected 3 x {len(features)} weights, 3 intercepts and a positive temperature")
        return head

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        """Calibrated P(yes, no, maybe) per row of features."""
        z = (np.atleast_2d(X) @ np.asarray(self.weights).T + np.asarray(self.intercept)) / self.temperature
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


def feature_rows(verifier, items: list[tuple[str, Sequence[str]]]) -> np.ndarray:
    """`features` for each (question, abstract sentences): the verifier scores every sentence against the
    question's hypothesis, all pairs in one batched pass per model."""
    from ..question import to_hypothesis
    from .crossencoder import softmax

    pairs = [(to_hypothesis(q), s) for q, sents in items for s in sents]
    if not pairs:
        return np.zeros((len(items), len(FEATURES)))
    p3 = softmax(verifier.encoder.logits(pairs), verifier.calibration.temperature)
    rel = 1.0 - p3[:, 2]
    if verifier.direction is not None:
        p_ref = softmax(verifier.direction.logits(pairs))[:, 1]
    else:  # the 3-way model's own SUPPORTS-vs-REFUTES share
        p_ref = p3[:, 1] / (p3[:, 0] + p3[:, 1] + 1e-9)
    rows, start = [], 0
    for q, sents in items:
        n = len(sents)
        rows.append(features(q, list(sents), rel[start:start + n], p_ref[start:start + n]))
        start += n
    return np.array(rows, dtype=float)


def model_path() -> Path:
    return config.models_dir() / "stance" / "stance.json"


class StanceModel:
    """Stance from the trained verifier's reading of an abstract, through the fitted head."""

    name = "stance-verifier-lr"

    def __init__(self, path: Path | None = None, verifier=None) -> None:
        self.head = StanceHead.load(Path(path or model_path()))
        if verifier is None:
            from .verifier import NliVerifier

            verifier = NliVerifier()
        self.verifier = verifier

    def feature_rows(self, items: list[tuple[str, Sequence[str]]]) -> np.ndarray:
        return feature_rows(self.verifier, items)

    def answer(self, items: list[tuple[str, Sequence[str]]]) -> list[tuple[str, float, np.ndarray]]:
        """PubMedQA's task: yes / no / maybe for each (question, abstract sentences), with its probability."""
        if not items:
            return []
        probs = self.head.probabilities(self.feature_rows(items))
        return [(ANSWERS[int(np.argmax(p))], float(p.max()), p) for p in probs]

    def stances(self, question: str, papers: list[Paper]) -> list[Stance]:
        """Each paper's stance on `question` (yes / no / mixed)."""
        out = []
        for (label, conf, p) in self.answer([(question, paper_sentences(pp)) for pp in papers]):
            out.append(Stance(READING[label], conf, dict(zip(ANSWERS, map(float, p), strict=True)), self.name))
        return out
