"""Question-focused evidence: for each included paper and each sub-question, the sentences that best answer it.

Each sentence is scored by a small logistic model (`models/evidence/ranker.json`, fitted by
training/evidence/fit.py on claim–evidence-sentence labels the verifier never saw) over:
- `cos`: the MiniLM bi-encoder's cosine between the sub-question and the sentence;
- `xrel`: the verifier's relevance cross-encoder on (sub-question, sentence), as a logit;
- `facet`: the share of the sub-question's facets the sentence mentions;
- `finding`, `num`: finding cues and a reported number (cue words help; they do not decide).
A sentence *addresses* a sub-question when its probability reaches the ranker's threshold and half the paper's best,
it states a finding (a finding cue or a number, not a background sentence such as "Large language models have
..."; an abstract's opening sentence only with strong cues), it mentions at least one of the sub-question's facets itself, and the
paper (title and abstract) mentions every facet (all but one of four or more: `facets_needed`); for a condition, the sentence or the title must name the
condition's own facet.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import config
from ..errors import ModelError
from ..question import QuestionAnalysis, SubQuestion
from ..records import Paper
from ..text import facet_hits, paper_sentences, stems
from .claims import BACKGROUND, NUMBER, score_sentence

FEATURES = ("cos", "xrel", "facet", "finding", "num")


@dataclass
class Ranker:
    """Logistic weights over `FEATURES`, and the probability from which a sentence addresses a sub-question."""

    weights: dict[str, float]
    intercept: float
    threshold: float = 0.5
    meta: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> Ranker:
        path = Path(path or config.models_dir() / "evidence" / "ranker.json")
        if not path.exists():
            raise ModelError(f"{path}: evidence ranker missing (fit it: python -m training.evidence.fit)")
        try:
            data = json.loads(path.read_text())
            ranker = cls(dict(data["weights"]), float(data["intercept"]), float(data.get("threshold", 0.5)),
                         data.get("meta", {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{path}: unreadable evidence ranker: {exc}") from exc
        missing = [f for f in FEATURES if f not in ranker.weights]
        if missing:
            raise ModelError(f"{path}: weights: missing {', '.join(missing)}")
        return ranker

    def probability(self, feats: dict[str, float]) -> float:
        z = self.intercept + sum(self.weights[f] * feats[f] for f in FEATURES)
        return float(1.0 / (1.0 + np.exp(-z)))


@dataclass
class Evidence:
    """One sentence of one paper, scored for one sub-question."""

    paper_id: str
    sub_question: str
    sentence_index: int
    text: str
    score: float
    addresses: bool
    features: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def sentence_features(question: SubQuestion, sentences: list[str], cos: np.ndarray,
                      xrel: np.ndarray | None) -> list[dict[str, float]]:
    """The ranker's features for each sentence of one paper against one sub-question."""
    q_stems = stems(question.text)
    out = []
    for i, s in enumerate(sentences):
        finding, _ = score_sentence(s, q_stems, i)
        hits = facet_hits(s, question.facets) if question.facets else []
        out.append({"cos": float(cos[i]), "xrel": float(xrel[i]) if xrel is not None else 0.0,
                    "facet": sum(hits) / len(hits) if hits else 0.0, "finding": finding,
                    "num": 1.0 if NUMBER.search(s) else 0.0})
    return out


def _covers(question: SubQuestion, paper: Paper, sentence: str) -> bool:
    """Whether this sentence, in this paper, speaks to what the sub-question is about."""
    if not question.facets:
        return True
    if question.role == "condition":  # the condition's own concept comes first
        return facet_hits(f"{paper.title}. {sentence}", question.facets[:1])[0]
    in_paper = sum(facet_hits(f"{paper.title}. {paper.abstract}", question.facets))
    return any(facet_hits(sentence, question.facets)) and in_paper >= facets_needed(len(question.facets))


def facets_needed(n: int) -> int:
    """How many of a sub-question's n facets a paper must mention: all of them, but one when there are four or
    more (a long question, "How much memory and speed do KV cache compression methods save during long-context
    inference?", is answered in part by a paper on memory alone)."""
    return n - 1 if n >= 4 else n


OPENING_FINDING = 0.35  # an abstract's opening sentence counts as a finding only with strong cues (a number, "we show")


# "Which methods are used to detect X?" is answered by the methods the papers propose, not only by their results
ASKS_FOR_METHODS = re.compile(r"^\s*(which|what)\s+(kinds? of\s+)?(methods?|approaches|techniques|algorithms|strategies|"
                              r"models|tools|architectures|frameworks)\b", re.I)
PROPOSAL = re.compile(r"\b(we|this (paper|work|study))\s+(propose|introduce|present|develop|design)s?\b|"
                      r"\b(a|an|the) (new |novel )?(method|approach|technique|framework|detector|model) (for|that|to)\b", re.I)


def states_finding(sentence: str, index: int, n_sentences: int, feats: dict[str, float],
                   methods: bool = False) -> bool:
    """A finding, not context: a finding cue or a number (or, when the sub-question asks which methods exist, a
    proposed method), no background wording; the opening sentence, mostly context, only with strong cues."""
    cue = feats["finding"] > 0 or (methods and bool(PROPOSAL.search(sentence)))
    return cue and not BACKGROUND.search(sentence) and \
        (index > 0 or n_sentences <= 2 or feats["finding"] >= OPENING_FINDING)


def relevance_logits(verifier, pairs: list[tuple[str, str]]) -> np.ndarray:
    """The verifier's sentence relevance (1 - P(NOT ENOUGH INFO) of its 3-way model) as logits."""
    from .crossencoder import softmax

    if not pairs:
        return np.zeros(0)
    p = softmax(verifier.encoder.logits(pairs), verifier.calibration.temperature)
    rel = np.clip(1.0 - p[:, 2], 1e-6, 1 - 1e-6)
    return np.log(rel) - np.log1p(-rel)


def rank(papers: list[Paper], analysis: QuestionAnalysis, ranker: Ranker, verifier=None,
         embedder=None) -> dict[tuple[str, str], list[Evidence]]:
    """(paper id, sub-question id) -> that paper's sentences scored for the sub-question, best first."""
    from ..retrieval.embed import get_embedder

    emb = embedder or get_embedder(128)
    subs = analysis.sub_questions
    sents = {p.id: paper_sentences(p) for p in papers}
    qvecs = emb.encode([s.text for s in subs]) if subs else np.zeros((0, 384))
    flat = [(p.id, i, s) for p in papers for i, s in enumerate(sents[p.id])]
    svecs = emb.encode([s for _, _, s in flat], batch_size=32) if flat else np.zeros((0, 384))
    pairs = [(sq.text, s) for sq in subs for _, _, s in flat]
    xrel = relevance_logits(verifier, pairs).reshape(len(subs), len(flat)) if verifier is not None and pairs else None
    out: dict[tuple[str, str], list[Evidence]] = {}
    for qi, sq in enumerate(subs):
        methods = sq.kind == "open" and bool(ASKS_FOR_METHODS.search(sq.text))
        cos_all = svecs @ qvecs[qi] if len(flat) else np.zeros(0)
        start = 0
        for p in papers:
            n = len(sents[p.id])
            feats = sentence_features(sq, sents[p.id], cos_all[start:start + n],
                                      xrel[qi, start:start + n] if xrel is not None else None)
            start += n
            probs = [ranker.probability(f) for f in feats]
            floor = max(ranker.threshold, 0.5 * max(probs, default=0.0))
            ev = [Evidence(p.id, sq.id, i, sents[p.id][i], round(prob, 4),
                           prob >= floor and states_finding(sents[p.id][i], i, len(feats), f, methods)
                           and _covers(sq, p, sents[p.id][i]),
                           {k: round(v, 4) for k, v in f.items()}) for i, (f, prob) in enumerate(zip(feats, probs, strict=True))]
            out[(p.id, sq.id)] = sorted(ev, key=lambda e: -e.score)
    return out
