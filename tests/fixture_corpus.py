"""A small corpus of real arXiv abstracts for tests, cut from the shared data at session start.

Deterministic: the first 30 papers (by id) whose title mentions speculative decoding, the first 12 about
mixture-of-experts, and 30 distractors (ids ending in "000"). Nothing is copied into the repository.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from helpers import config


def build_fixture_corpus(path: Path) -> Path:
    quotas = {"spec": 30, "moe": 12, "other": 30}
    taken = {k: 0 for k in quotas}
    lines = []
    with gzip.open(config.data_root() / "arxiv-cs" / "papers.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            title = rec["title"].lower()
            kind = ("spec" if "speculative decoding" in title else "moe" if "mixture-of-experts" in title
                    else "other" if rec["id"].endswith("000") else None)
            if kind and taken[kind] < quotas[kind]:
                taken[kind] += 1
                lines.append(line)
            if taken == quotas:
                break
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")
    return path


def register_fixture_corpus(path: Path, name: str = "fixture") -> Path:
    from helpers.retrieval.store import add_corpus

    build_fixture_corpus(path)
    add_corpus(name, path)
    return path
