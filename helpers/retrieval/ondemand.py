"""Dense scores computed on demand, for a corpus whose full index is not built (yet).

A question needs the dense scores of few documents: the BM25 candidates of its queries (facet, criteria and
feedback queries), and the pool of them for the whole-question query and the re-ranking. `OnDemandIndex`
embeds those documents when first asked for and keeps their vectors in the store's content-keyed cache
(`vectors.py`), under the same keys as the full index: nothing is embedded twice, and a later full build
(`workbench corpus embed`) reuses them. Scores are the same cosines the full index gives for the same documents
(tested against it); what is lost is only the documents that no BM25 candidate list contains, which a run
states in its methods ("dense scores over the BM25 candidates only").
"""

from __future__ import annotations

import numpy as np

from .dense import Usage, _Tracked, text_key
from .embed import DIM, Embedder
from .store import CorpusStore
from .vectors import VectorCache

__all__ = ["OnDemandIndex", "Usage"]


class OnDemandIndex(_Tracked):
    """Cosine similarities for given documents of a store, embedding each document the first time it is needed."""

    full = False

    def __init__(self, store: CorpusStore, max_length: int, embedder: Embedder | None = None,
                 progress: bool = False) -> None:
        self.store, self.max_length = store, max_length
        self.cache = VectorCache(store, max_length, embedder)
        self.progress = progress
        self.n_docs = len(store)
        self._init_tracking()

    @property
    def embedder(self) -> Embedder:
        return self.cache.embedder

    def vectors(self, doc_ids: list[str]) -> np.ndarray:
        """Vectors of `doc_ids` in order (zero rows for ids not in the store)."""
        texts = self.store.texts_for(doc_ids)
        known = [d for d in dict.fromkeys(doc_ids) if d in texts]
        bar = None
        if self.progress and self.cache.missing([text_key(texts[d]) for d in known]):
            from tqdm.auto import tqdm

            bar = tqdm(desc=f"embed {self.store.name} (on demand)", unit=" docs", mininterval=2)
        vecs, embedded = self.cache.get([texts[d] for d in known], on_batch=bar.update if bar else None)
        if bar is not None:
            bar.close()
        self._note(known, embedded)
        row = {d: i for i, d in enumerate(known)}
        out = np.zeros((len(doc_ids), DIM), np.float32)
        for i, d in enumerate(doc_ids):
            if d in row:
                out[i] = vecs[row[d]]
        return out

    def similarity(self, query: str, doc_ids: list[str]) -> list[float]:
        """Cosine similarity of `query` to each of `doc_ids` (0.0 for ids not in the store)."""
        if not doc_ids:
            return []
        qvec = self.embedder.encode([query])[0]
        return [float(s) for s in self.vectors(doc_ids) @ qvec]

    def text_vectors(self, texts: list[str]) -> list[np.ndarray | None]:
        """The vector of each text, embedded now if no one computed it before (kept in the store's cache)."""
        vecs, embedded = self.cache.get(texts)
        for usage in self._trackers:
            usage.embedded += embedded
        return list(vecs)
