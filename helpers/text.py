"""Small text utilities shared by retrieval, screening and claim extraction."""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9]|[A-Za-z0-9]")

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves whether without
    within via using use used based new may might must shall upon onto per among amongst toward towards
    """.split()
)


def words(text: str) -> list[str]:
    """Lower-cased word tokens (hyphenated words kept whole)."""
    return [w.lower() for w in _WORD.findall(text or "")]


def content_words(text: str) -> list[str]:
    """Word tokens without stop words or one-character tokens."""
    return [w for w in words(text) if w not in STOPWORDS and len(w) > 1]


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def split_sentences(text: str) -> list[str]:
    """Split an abstract into whole sentences (pysbd, offsets kept so no text is lost or cut)."""
    text = (text or "").strip()
    if not text:
        return []
    spans = _segmenter().segment(text)
    sentences = [s.sent.strip() for s in spans if s.sent.strip()]
    # pysbd can split after abbreviations like "e.g." or "et al."; glue fragments that start lower-case.
    merged: list[str] = []
    for sent in sentences:
        if merged and (sent[0].islower() or len(sent) < 12):
            merged[-1] = f"{merged[-1]} {sent}"
        else:
            merged.append(sent)
    return merged


def paper_sentences(paper) -> list[str]:
    """A paper's abstract as sentences: the source's own split when it gives one, else pysbd."""
    return list(paper.sentences) if getattr(paper, "sentences", None) else split_sentences(paper.abstract)
