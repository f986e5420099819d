"""Claim verification: label a claim against one abstract (SUPPORTS / REFUTES / NOT ENOUGH INFO).

Interface used by the pipeline and `workbench eval verify`:
    verifier = load_verifier()
    verdict = verifier.verify(claim_text, paper)     # -> Verdict

This file holds the interface, the trained `NliVerifier` (the default: an int8 ONNX MiniLM cross-encoder
scoring each claim–sentence pair, aggregated to an abstract verdict with calibrated probabilities) and a
transparent lexical baseline (the benchmark baseline).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
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

    def verify_many(self, pairs: list[tuple[str, Paper]], cited: bool | Sequence[bool] = False) -> list[Verdict]: ...


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

    def verify_many(self, pairs: list[tuple[str, Paper]], cited: bool | Sequence[bool] = False) -> list[Verdict]:
        return [self.verify(c, p) for c, p in pairs]


@dataclass
class Calibration:
    """How sentence scores become a calibrated abstract verdict; fitted on out-of-fold scores of the SciFact
    train claims (training/verifier/cv.py fit, or calibrate.py for an 80/20 split) and stored as
    models/verifier/calibration.json.

    P(evidence) is a logistic map over the abstract's relevance features (`evidence_features`): one for a paper
    found for the claim (`pair_evidence`), one for a paper chosen for it, i.e. its own source or a paper it cites
    (`cited_evidence`: evidence far more often), and one with five extra features when the abstracts are a claim's
    ranked retrieval candidates (`ranked_evidence`: `ranked_features`); P(REFUTES | evidence) is a logistic map over the direction features (`direction_features`). Then
    P(SUPPORTS) = P(ev)(1 - P(ref)), P(REFUTES) = P(ev) P(ref), P(NEI) = 1 - P(ev).
    """

    temperature: float = 1.0  # softmax temperature of the 3-way (relevance) model's sentence logits
    rationale_threshold: float = 0.5  # further rationale sentences need relevance >= this
    evidence_threshold: float = 0.5  # SUPPORTS/REFUTES only when its calibrated probability >= this
    top_sentences: int = 2  # the most relevant sentences whose direction is read
    pair_evidence: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.0])  # coef rel1, rel2; intercept
    cited_evidence: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.0])  # the same, for a chosen paper
    # + gap, 1/(1+rank), and the retrieval's own scores (helpers.search.RETRIEVAL_FEATURES)
    ranked_evidence: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    direction: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.0])  # coef dir, claim negation; intercept
    # the model files these maps were fitted on: several = an ensemble (their logits are averaged)
    relevance_models: list[str] = field(default_factory=lambda: ["model.onnx"])
    direction_models: list[str] = field(default_factory=lambda: ["direction.onnx"])
    meta: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Calibration:
        if not path.exists():
            raise ModelError(f"{path}: verifier calibration file missing")
        try:
            cal = cls(**json.loads(path.read_text()))
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{path}: unreadable calibration: {exc}") from exc
        for name, n in (("pair_evidence", 3), ("cited_evidence", 3), ("ranked_evidence", 8), ("direction", 3)):
            if len(getattr(cal, name)) != n:
                raise ModelError(f"{path}: {name}: expected {n} numbers (coefficients, then intercept)")
        for name in ("relevance_models", "direction_models"):
            files = getattr(cal, name)
            if not isinstance(files, list) or not all(isinstance(f, str) and f.endswith(".onnx") for f in files):
                raise ModelError(f"{path}: {name}: expected a list of .onnx file names")
        if not cal.relevance_models:
            raise ModelError(f"{path}: relevance_models: expected at least one .onnx file name")
        return cal

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _sigmoid(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-z)))


NEGATED = re.compile(r"\b(not|no|never|without|cannot|fails?|lacks?|ineffective|unable)\b|n't", re.I)
GAP_CLIP = 8.0


@dataclass
class PairScores:
    """What the models say about one (claim, abstract) pair, before calibration."""

    relevance: np.ndarray  # per sentence: 1 - P(NEI) of the 3-way model
    p_refutes: np.ndarray  # per top sentence (most relevant first): P(REFUTES | evidence) of the direction model
    top: list[int]  # indices of those sentences
    negated_claim: bool

    def evidence_features(self) -> list[float]:
        """logit of the best and second-best sentence relevance."""
        r = np.sort(self.relevance)[::-1]
        if len(r) == 0:
            return [-14.0, -14.0]
        return [float(_logit(r[0])), float(_logit(r[1])) if len(r) > 1 else -14.0]

    def direction_features(self) -> list[float]:
        """Relevance-weighted mean logit P(REFUTES) over the top sentences, and whether the claim is negated."""
        if not len(self.p_refutes):
            return [0.0, float(self.negated_claim)]
        w = self.relevance[self.top[:len(self.p_refutes)]] + 1e-6
        return [float(np.sum(w * _logit(self.p_refutes)) / w.sum()), float(self.negated_claim)]


def ranked_features(scores: list[PairScores], retrieval: Sequence[Sequence[float]]) -> list[list[float]]:
    """Per candidate of one claim (in retrieval order): relevance margin over the best other candidate, 1/(1+rank),
    then the retrieval's own scores of it (`retrieval`, one row per candidate: `helpers.search.hybrid_scored`)."""
    if len(retrieval) != len(scores):
        raise ValueError(f"retrieval: {len(retrieval)} rows of scores for {len(scores)} candidates")
    best = [s.evidence_features()[0] for s in scores]
    out = []
    for i, b in enumerate(best):
        others = best[:i] + best[i + 1:]
        gap = b - max(others) if others else GAP_CLIP
        out.append([float(np.clip(gap, -GAP_CLIP, GAP_CLIP)), 1.0 / (1 + i), *map(float, retrieval[i])])
    return out


def calibrated_probs(scores: PairScores, cal: Calibration, context: list[float] | None = None,
                     cited: bool = False) -> np.ndarray:
    """Calibrated P(SUPPORTS, REFUTES, NEI) for one abstract (`context`: its `ranked_features`, if ranked;
    `cited`: the paper was chosen for the claim, not found for it)."""
    if context is None:
        w = np.asarray(cal.cited_evidence if cited else cal.pair_evidence)
        x = scores.evidence_features()
    else:
        w = np.asarray(cal.ranked_evidence)
        x = scores.evidence_features() + list(context)
    p_ev = _sigmoid(float(w[:-1] @ np.asarray(x) + w[-1]))
    d = np.asarray(cal.direction)
    p_ref = _sigmoid(float(d[:-1] @ np.asarray(scores.direction_features()) + d[-1]))
    return np.array([p_ev * (1 - p_ref), p_ev * p_ref, 1 - p_ev])


def decide(scores: PairScores, sentences: list[str], cal: Calibration, context: list[float] | None = None,
           method: str = "", cited: bool = False) -> Verdict:
    """Abstract verdict: label = likelier of SUPPORTS/REFUTES if its calibrated probability reaches the
    evidence threshold, else NOT ENOUGH INFO (abstain); rationale = the most relevant sentences."""
    probs = calibrated_probs(scores, cal, context, cited)
    prob_map = dict(zip(LABELS, map(float, probs), strict=True))
    k = int(np.argmax(probs[:2]))
    if probs[k] < cal.evidence_threshold or not len(scores.relevance):
        return Verdict("NOT ENOUGH INFO", prob_map["NOT ENOUGH INFO"], prob_map, method=method)
    order = np.argsort(-scores.relevance)
    chosen = sorted(int(i) for i in order[:3] if scores.relevance[i] >= cal.rationale_threshold) or [int(order[0])]
    return Verdict(LABELS[k], prob_map[LABELS[k]], prob_map, chosen, [sentences[i] for i in chosen], method=method)


TRAINING_CLAIMS = "training_claims.txt"


def claim_key(text: str) -> str:
    """A short fingerprint of a claim's text (case and spacing ignored), to tell training claims apart."""
    return hashlib.sha1(" ".join(text.lower().split()).encode()).hexdigest()[:12]


def training_claims(folder: Path) -> frozenset[str]:
    """Fingerprints (`claim_key`) of the claims the models in `folder` were trained on; empty if not recorded."""
    path = folder / TRAINING_CLAIMS
    if not path.exists():
        return frozenset()
    return frozenset(line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))


class NliVerifier:
    """Trained verifier: int8 ONNX MiniLM cross-encoders over (claim, sentence) pairs (relevance: 3-way model;
    direction: 2-way model, read on the most relevant sentences; each may be an ensemble of runs, logits averaged,
    as the calibration names them) and a calibrated abstract-level map."""

    name = "nli-minilm"

    def __init__(self, folder: Path | None = None, threads: int = 0, calibration: Calibration | None = None) -> None:
        from .nli import CrossEncoder, model_dir

        folder = Path(folder or model_dir())
        self.calibration = cal = calibration or Calibration.load(folder / "calibration.json")
        self.encoder = CrossEncoder(folder, threads=threads, filename=cal.relevance_models)
        # the files the maps were fitted on must all be there (a missing one is a ModelError naming it); none named
        # (`direction_models: []`) = the 3-way model's own SUPPORTS-vs-REFUTES share
        self.direction = CrossEncoder(folder, threads=threads, filename=cal.direction_models) \
            if cal.direction_models else None
        self.trained_on = training_claims(folder)

    def score(self, pairs: list[tuple[str, Paper]]) -> list[tuple[PairScores, list[str]]]:
        """Model scores for each pair, in two passes: relevance of every sentence, then the direction
        of the top sentences."""
        from .nli import softmax

        cal = self.calibration
        sents = [paper_sentences(p) for _, p in pairs]
        flat = [(claim, s) for (claim, _), ss in zip(pairs, sents, strict=True) for s in ss]
        probs = softmax(self.encoder.logits(flat), cal.temperature)
        rel_all = 1.0 - probs[:, 2]
        out, start = [], 0
        dir_pairs = []
        for (claim, _), ss in zip(pairs, sents, strict=True):
            rel = rel_all[start:start + len(ss)]
            p3 = probs[start:start + len(ss)]
            start += len(ss)
            top = [int(j) for j in np.argsort(-rel)[:cal.top_sentences]]
            dir_pairs += [(claim, ss[j]) for j in top]
            # without a direction model, the 3-way model's own SUPPORTS-vs-REFUTES choice
            p_ref = p3[top, 1] / (p3[top, 0] + p3[top, 1] + 1e-9)
            out.append((PairScores(rel, p_ref, top, bool(NEGATED.search(claim))), ss))
        if self.direction is not None and dir_pairs:
            p = softmax(self.direction.logits(dir_pairs))[:, 1]
            start = 0
            for sc, _ in out:
                sc.p_refutes = p[start:start + len(sc.top)]
                start += len(sc.top)
        return out

    def verify(self, claim: str, paper: Paper) -> Verdict:
        return self.verify_many([(claim, paper)])[0]

    def verify_many(self, pairs: list[tuple[str, Paper]], cited: bool | Sequence[bool] = False) -> list[Verdict]:
        """Each pair judged on its own. `cited` (one flag, or one per pair): the paper was chosen for the claim
        (its source, a paper it cites) rather than found for it, so evidence is far likelier a priori."""
        flags = [cited] * len(pairs) if isinstance(cited, bool) else list(cited)
        if len(flags) != len(pairs):
            raise ValueError(f"cited: {len(flags)} flags for {len(pairs)} pairs")
        return [decide(sc, ss, self.calibration, method=self.name, cited=c)
                for (sc, ss), c in zip(self.score(pairs), flags, strict=True)]

    def verify_ranked(self, claim: str, papers: list[Paper], retrieval: Sequence[Sequence[float]]) -> list[Verdict]:
        """The claim against its retrieved candidates, best first: the calibration also uses each abstract's
        rank, its relevance margin over the other candidates (most claims have one evidence abstract) and the
        retrieval's own scores of it (`retrieval`: a row per paper, from `helpers.search.hybrid_scored`)."""
        return self.verify_ranked_many([(claim, papers, retrieval)])[0]

    def verify_ranked_many(self, groups: list[tuple[str, list[Paper], Sequence[Sequence[float]]]]
                           ) -> list[list[Verdict]]:
        """`verify_ranked` for many claims, scored in one batched pass."""
        scored = self.score([(claim, p) for claim, papers, _ in groups for p in papers])
        out, start = [], 0
        for _, papers, retrieval in groups:
            part = scored[start:start + len(papers)]
            start += len(papers)
            context = ranked_features([sc for sc, _ in part], retrieval)
            out.append([decide(sc, ss, self.calibration, ctx, self.name)
                        for (sc, ss), ctx in zip(part, context, strict=True)])
        return out


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
