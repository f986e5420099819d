"""Pseudo-relevance feedback (RM3-style): expansion terms weighted by the feedback documents' normalised scores
and by idf, from a per-store document-frequency table cached beside the store."""

from __future__ import annotations

import json
import math
from collections import Counter
from functools import lru_cache
from pathlib import Path

from ..atomic import write_text
from ..locks import build_lock
from ..text import content_words
from .store import CorpusStore, Hit

# Tokens of LaTeX markup and URLs that leak into arXiv abstracts; never useful as expansion terms.
MARKUP = frozenset("textbf textit texttt mathrm mathbf mathcal emph cite url http https www github com html".split())


@lru_cache(maxsize=8)
def _doc_freq(db_path: Path, name: str) -> tuple[Counter, int]:
    """Document frequency of every content word, cached in `<store>.df.json` (rebuilt with the store)."""
    store = CorpusStore(db_path, name)
    key = store.meta().get("fingerprint", "")
    cache = db_path.with_name(f"{db_path.stem}.df.json")
    found = _cached_df(cache, key)
    if found is not None:
        return found
    with build_lock(cache):  # one process counts; the others wait, then read its file
        found = _cached_df(cache, key)
        if found is not None:
            return found
        df: Counter = Counter()
        texts = store.texts()
        for text in texts:
            df.update(set(content_words(text)))
        write_text(cache, json.dumps({"fingerprint": key, "n": len(texts), "df": df}))
        return df, len(texts)


def _cached_df(cache: Path, key: str) -> tuple[Counter, int] | None:
    """The cached table if it was counted on the store with fingerprint `key` (written atomically)."""
    if not cache.exists():
        return None
    data = json.loads(cache.read_text())
    return (Counter(data["df"]), data["n"]) if data.get("fingerprint") == key else None


def rm3_weights(docs: list[str], doc_scores: list[float], df: Counter, n_docs: int) -> Counter:
    """Relevance-model term weights: sum_d p(d|q) * tf(t,d)/|d|, times idf (pure; p(d|q) ~ normalised score)."""
    total = sum(doc_scores) or 1.0
    weights: Counter = Counter()
    for text, score in zip(docs, doc_scores, strict=True):
        words = content_words(text)
        if not words:
            continue
        for term, tf in Counter(words).items():
            weights[term] += (score / total) * tf / len(words)
    for term in weights:
        weights[term] *= math.log((n_docs + 1) / (df.get(term, 0) + 0.5))
    return weights


def feedback_terms(store: CorpusStore, hits: list[Hit], exclude: str, n_terms: int = 10,
                   max_df: float = 0.1) -> list[str]:
    """RM3-style expansion terms from feedback documents `hits` (terms of `exclude`, numbers, markup,
    rare (df < 3) and very common (df > max_df) terms left out)."""
    if not hits:
        return []
    df, n = _doc_freq(store.db_path, store.name)
    papers = {p.id: p for p in store.get([h.doc_id for h in hits])}
    kept = [h for h in hits if h.doc_id in papers]
    texts = [f"{papers[h.doc_id].title}. {papers[h.doc_id].abstract}" for h in kept]
    scores = [max(h.score, 1e-6) for h in kept]
    weights = rm3_weights(texts, scores, df, n)
    seen = set(content_words(exclude))
    out = []
    for term, _ in weights.most_common():
        if (term in seen or term in MARKUP or not any(c.isalpha() for c in term)
                or not 3 <= df.get(term, 0) <= max_df * n):
            continue
        out.append(term)
        if len(out) >= n_terms:
            break
    return out
