"""Reading a run's files back from `outputs/<slug>/`: what one stage wrote is what the next stage reads."""

from __future__ import annotations

import json
from pathlib import Path

from .records import Paper


def load_records(out_dir: Path) -> list[dict]:
    """The screened records of `records.jsonl` (written by the retrieval stage), with their decisions."""
    path = Path(out_dir) / "records.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_papers(out_dir: Path) -> tuple[list[Paper], list[Paper], dict[str, float]]:
    """(included papers, all screened papers, relevance by id) from records.jsonl."""
    recs = load_records(out_dir)
    all_papers = [Paper.from_dict(r) for r in recs]
    inc_ids = {r["id"] for r in recs if r["decision"] == "included"}
    return [p for p in all_papers if p.id in inc_ids], all_papers, {r["id"]: r["relevance"] for r in recs}

