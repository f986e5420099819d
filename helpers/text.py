"""Text utilities, in one place for every stage: the normalisation every record's text gets when it enters,
word tokens, stems and keyword matching, sentence splitting, markup stripping and Markdown escaping."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

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


# Words that frame a question but say nothing about its topic.
QUESTION_FILLER = frozenset(
    "what how does do is are trade-off tradeoff effect effects impact improve improves degrade degrading "
    "applying integrating standard performance large".split()
)


def topical_words(text: str) -> list[str]:
    """Content words without the words that only frame a question ("how", "effect", "improve", ...)."""
    return [w for w in content_words(text) if w not in QUESTION_FILLER]


def query_key(query: str) -> str:
    """A search query in the form two queries are compared in: Unicode NFKC, case-folded, whitespace collapsed,
    sentence punctuation at either end dropped ("Speculative  decoding?" is "speculative decoding")."""
    text = " ".join(unicodedata.normalize("NFKC", query or "").casefold().split())
    return text.strip(" .,;:?!")


def unique_queries(queries: Iterable[str | None]) -> list[str]:
    """`queries` stripped, without blanks and without any query equal (by `query_key`) to an earlier one."""
    seen: set[str] = set()
    out = []
    for q in queries:
        key = query_key(q or "")
        if key and key not in seen:
            seen.add(key)
            out.append((q or "").strip())
    return out


def stem(word: str) -> str:
    """A light suffix stripper, enough to match 'routing'~'routed'~'route' across question and abstract."""
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ers", "er", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def stems(text: str) -> set[str]:
    """The stems of a text's content words."""
    return {stem(w) for w in content_words(text)}


def phrase_in(phrase: str, text_lower: str, text_stems: set[str]) -> bool:
    """A keyword matches as a phrase (substring) or, for one word, by stem."""
    phrase = phrase.lower().strip()
    if " " in phrase or not phrase.isalnum():
        return re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", text_lower) is not None
    return stem(phrase) in text_stems


def facet_hits(text: str, facets: list[list[str]]) -> list[bool]:
    """For each keyword group, whether `text` mentions any of its keywords."""
    low = text.lower()
    text_stems = stems(text)
    return [any(phrase_in(k, low, text_stems) for k in group) for group in facets]


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


_TAG = re.compile(r"</?[A-Za-z][\w:.-]*(\s[^<>]*)?/?>")  # a markup tag, not a "<" in "P < 0.05"
_SPACE = re.compile(r"\s+")


def clean_text(text: Any) -> str:
    """Markup (JATS, HTML, MathML) stripped, entities (``&lt;``) decoded, whitespace collapsed."""
    if not text:
        return ""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", str(text)))).strip()


# Line breaks of every kind (CR, CRLF, vertical tab, form feed, NEL, Unicode line and paragraph separators).
_LINE_BREAK = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
# What never enters: C0 and C1 control characters other than tab and newline; the bidi embedding, override and
# isolate characters (U+202A-U+202E, U+2066-U+2069), which can make displayed text read differently from what it
# is; and lone surrogates (JSON can carry them; no UTF-8 file can hold them).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def normalise(text: Any, one_line: bool = False) -> str:
    """A record's text as the workbench keeps it: Unicode NFC; control, bidi-control and lone-surrogate characters
    removed (tab and newline kept); line breaks as ``\\n``; stripped. With `one_line` (titles, names, venues,
    identifiers) every run of whitespace, newlines included, becomes one space."""
    if text is None:
        return ""
    s = _UNSAFE.sub("", _LINE_BREAK.sub("\n", str(text)))
    s = unicodedata.normalize("NFC", s)
    return _SPACE.sub(" ", s).strip() if one_line else s.strip()


def one_line(text: Any) -> str:
    """`normalise` for a one-line field: no newline, no run of spaces."""
    return normalise(text, one_line=True)


def md_escape(text: object) -> str:
    """Text from a paper or params file made inert in Markdown (and in any HTML a viewer renders)."""
    s = html.escape(str(text), quote=False)
    return s.replace("|", "\\|").replace("\n", " ").replace("*", "\\*").replace("_", "\\_").replace("[", "\\[")
