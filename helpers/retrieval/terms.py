"""Corpus statistics for question analysis: how common a word is, and which acronym the corpus uses for a phrase."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from .feedback import _doc_freq
from .store import CorpusStore


def doc_share(store: CorpusStore) -> Callable[[str], float]:
    """word -> share of the store's documents whose title or abstract contains it (exact lower-cased word)."""
    df, n = _doc_freq(store.db_path, store.name)
    return lambda w: df.get(w.lower(), 0) / max(1, n)


def acronyms(store: CorpusStore, min_count: int = 2, depth: int = 50) -> Callable[[str], str | None]:
    """phrase -> the acronym the corpus writes after it ("mixture of experts (MoE)"), when it does so at least
    `min_count` times in the phrase's top BM25 hits; else None."""
    def find(phrase: str) -> str | None:
        words = phrase.split()
        if len(words) < 2:
            return None
        pattern = re.compile(r"[\s-]+".join(map(re.escape, words)) + r"s?\s*\(([A-Z][A-Za-z0-9-]{1,9})\)", re.I)
        hits = store.search(phrase, k=depth)
        counts: Counter[str] = Counter()
        for paper in store.get([h.doc_id for h in hits]):
            for m in pattern.finditer(f"{paper.title}. {paper.abstract}"):
                acr = m.group(1)
                if sum(c.isupper() for c in acr) >= 2:
                    counts[acr.rstrip("s") if acr.endswith("s") and acr[:-1].isupper() else acr] += 1
        best = counts.most_common(1)
        return best[0][0] if best and best[0][1] >= min_count else None

    return find
