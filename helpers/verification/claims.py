"""Claims: the sentences of included abstracts that answer the question, one whole sentence each, copied exactly
from its abstract, with its sentence index and the sub-question(s) it answers.

Which sentences answer is decided by the question-focused evidence ranker (`evidence.py`); the finding cues here
are one of its features.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass

from ..records import Paper
from ..text import content_words, stem

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
    r"current|traditional|prior|previous|with the (rapid|recent|growing)|as (large )?(language )?models)\b|"
    r"\b(have|has) (shown|become|emerged|achieved|demonstrated|gained|attracted|received)\b|"
    r"\bremains? (a |an )?(challeng|open|difficult|unclear|uncertain|underexplored|understudied|limited|poorly)|"
    r"\bis an? (essential|important|popular|common|key|widely|promising|fundamental|crucial|critical)\b|"
    r"\brel(y|ies) on (a |an |the )?(critical |key )?assumption",
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
    sub_question: str = ""  # the sub-question(s) it answers: "Q1" or "Q1;Q3"

    def to_dict(self) -> dict:
        return asdict(self)


def claim_id(paper_id: str, sentence_index: int, text: str) -> str:
    """Stable id: the same paper, sentence and text give the same id on every run."""
    digest = hashlib.sha1(f"{paper_id}|{sentence_index}|{text}".encode()).hexdigest()[:10]
    return f"C{digest}"


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


def is_whole_sentence(sentence: str) -> bool:
    """Fragments are never claims: at least six words, ending as a sentence ends."""
    s = sentence.strip()
    return len(s.split()) >= 6 and s[-1] in ".!?"


ROLE_ORDER = {"main": 0, "side effect": 1, "condition": 2}


def select(evidence: dict, papers: list[Paper], sub_questions: list, per_paper: int) -> list[Claim]:
    """Up to `per_paper` claims per paper from the question-focused evidence (`evidence.rank`): each sub-question
    in turn (main ones first) gives its best sentence that addresses it, then its second best, ...; a sentence
    answering several sub-questions is one claim naming them all."""
    subs = sorted(sub_questions, key=lambda s: ROLE_ORDER.get(s.role, 3))
    claims: list[Claim] = []
    for paper in papers:
        queues = [[e for e in evidence.get((paper.id, sq.id), []) if e.addresses and is_whole_sentence(e.text)]
                  for sq in subs]
        answers: dict[int, list[str]] = {}
        for sq, q in zip(subs, queues, strict=True):
            for e in q:
                answers.setdefault(e.sentence_index, []).append(sq.id)
        chosen: list = []
        depth = 0
        while len(chosen) < per_paper and any(depth < len(q) for q in queues):
            for q in queues:
                if depth < len(q) and len(chosen) < per_paper and \
                        all(c.sentence_index != q[depth].sentence_index for c in chosen):
                    chosen.append(q[depth])
            depth += 1
        for e in chosen:
            ids = sorted(set(answers[e.sentence_index]), key=lambda x: int(x[1:]))
            claims.append(Claim(claim_id(paper.id, e.sentence_index, e.text), paper.id, e.text, e.sentence_index,
                                round(e.score, 4), round(e.features.get("facet", 0.0), 4), ";".join(ids)))
    return claims
