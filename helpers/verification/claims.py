"""Claim extraction: the sentences of included abstracts that state findings bearing on the question.

A claim is always one whole sentence, copied exactly from its abstract, with its sentence index.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass

from ..params import Params
from ..records import Paper
from ..text import QUESTION_FILLER, content_words, paper_sentences, stem

FINDING = re.compile(
    r"\b(we (show|find|found|demonstrate|observe|report|confirm)|(results|experiments|evaluations?|analys[ie]s) "
    r"(show|indicate|demonstrate|suggest|reveal|confirm)|achiev\w*|outperform\w*|improv\w*|reduc\w*|increas\w*|"
    r"speed-?ups?|faster|surpass\w*|yield\w*|deliver\w*|without (any )?(significant )?(loss|degrad\w*|sacrific\w*|drop)|"
    r"maintain\w*|preserv\w*|comparable|match(es|ing)?|degrad\w*|drops?|trade-?offs?|lower|higher|fewer|boost\w*|"
    r"accelerat\w*|saves?|cuts?|gains?)\b",
    re.I,
)
NUMBER = re.compile(r"\d+(\.\d+)?\s*(%|x\b|×|times|points?|pp\b|tokens/s|ms\b|percent)", re.I)
BACKGROUND = re.compile(
    r"^(however|recent(ly)?|in recent years|large language models|despite|although|while|existing|"
    r"current|traditional|prior|previous)\b|\b(have|has) (shown|become|emerged|achieved|demonstrated)\b|"
    r"\bremains? (a |an )?(challeng|open|difficult|unclear)",
    re.I,
)
METHOD_ONLY = re.compile(r"^(in this (paper|work)|to (address|tackle|this end)|we (propose|introduce|present|design))\b", re.I)


@dataclass
class Claim:
    claim_id: str
    paper_id: str
    text: str
    sentence_index: int
    score: float
    relevance: float

    def to_dict(self) -> dict:
        return asdict(self)


def claim_id(paper_id: str, sentence_index: int, text: str) -> str:
    """Stable id: the same paper, sentence and text give the same id on every run."""
    digest = hashlib.sha1(f"{paper_id}|{sentence_index}|{text}".encode()).hexdigest()[:10]
    return f"C{digest}"


def _question_stems(params: Params) -> set[str]:
    stems = {stem(w) for w in content_words(params.question) if w not in QUESTION_FILLER}
    for group in params.criteria.include_any:
        for kw in group:
            stems |= {stem(w) for w in content_words(kw)}
    return stems


def score_sentence(sentence: str, q_stems: set[str], position: int) -> tuple[float, float]:
    """(finding-likeness in [0,1], relevance to the question in [0,1]) for one sentence."""
    finding = 0.0
    cues = len(FINDING.findall(sentence))
    finding += min(0.5, 0.2 * cues)
    if NUMBER.search(sentence):
        finding += 0.35
    if re.search(r"\b(we|our) (show|find|found|demonstrate|observe|results?|experiments?)\b", sentence, re.I):
        finding += 0.2
    if BACKGROUND.search(sentence):
        finding -= 0.4
    if METHOD_ONLY.search(sentence) and not NUMBER.search(sentence):
        finding -= 0.2
    if position == 0:
        finding -= 0.15  # first sentences of abstracts are mostly context
    sent_stems = {stem(w) for w in content_words(sentence)}
    relevance = len(sent_stems & q_stems) / max(4, min(len(q_stems), 10)) if q_stems else 0.0
    return max(0.0, min(1.0, finding)), min(1.0, relevance)


def extract(papers: list[Paper], params: Params, min_score: float = 0.3) -> list[Claim]:
    """Up to `claims_per_paper` finding sentences per paper, best first, in paper order."""
    q_stems = _question_stems(params)
    claims: list[Claim] = []
    for paper in papers:
        scored = []
        for i, sent in enumerate(paper_sentences(paper)):
            n_words = len(sent.split())
            if n_words < 6 or sent[-1] not in ".!?":  # fragments are never claims
                continue
            finding, rel = score_sentence(sent, q_stems, i)
            if finding <= 0:
                continue
            score = 0.55 * finding + 0.45 * rel
            if score >= min_score:
                scored.append((score, rel, i, sent))
        scored.sort(key=lambda t: -t[0])
        for score, rel, i, sent in scored[: params.claims_per_paper]:
            claims.append(Claim(claim_id(paper.id, i, sent), paper.id, sent, i, round(score, 4), round(rel, 4)))
    return claims
