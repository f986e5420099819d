"""PubMedQA-L for the stance model, with its fixed cross-validation folds.

PubMedQA-L's 500 trainval items (the official test split is kept aside and never read): question + contexts
(reasoning-required; LONG_ANSWER is never read), yes / no / maybe. `fold_of` gives a fixed hash fold for
5-fold cross-validation (also used for Check-COVID's news items by training.evidence.fit).
"""

from __future__ import annotations

import hashlib

N_FOLDS = 5


def fold_of(key: str, n: int = N_FOLDS) -> int:
    """A fixed hash fold for cross-validation (independent of file order)."""
    return int(hashlib.sha256(f"stance-fold:{key}".encode()).hexdigest()[:8], 16) % n
