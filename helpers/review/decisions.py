"""A person's review decisions: `params/reviews/<slug>.jsonl`, appended, never rewritten; last per id wins.

One line per decision: {"kind": "claim"|"paper", "id", "decision", "label", "note", "reviewer", "at"}.
claim decisions: accept | reject | relabel (with label); paper decisions: include | exclude (note = reason).
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import warnings
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from .. import config
from ..errors import ReviewError
from ..records import LABELS

CLAIM_DECISIONS = ("accept", "reject", "relabel")
PAPER_DECISIONS = ("include", "exclude")


@dataclass
class ReviewDecision:
    kind: str
    id: str
    decision: str
    label: str | None = None
    note: str = ""
    reviewer: str = ""
    at: str = ""

    def validate(self) -> None:
        if self.kind == "claim":
            if self.decision not in CLAIM_DECISIONS:
                raise ReviewError(f"claim decision must be one of {CLAIM_DECISIONS}, not {self.decision!r}")
            if self.decision == "relabel" and self.label not in LABELS:
                raise ReviewError(f"relabel needs a label in {LABELS}, not {self.label!r}")
        elif self.kind == "paper":
            if self.decision not in PAPER_DECISIONS:
                raise ReviewError(f"paper decision must be one of {PAPER_DECISIONS}, not {self.decision!r}")
        else:
            raise ReviewError(f"kind must be 'claim' or 'paper', not {self.kind!r}")
        if not self.id:
            raise ReviewError("decision needs an id")


def reviews_path(slug: str) -> Path:
    return config.reviews_dir() / f"{slug}.jsonl"


def append(slug: str, decision: ReviewDecision, path: Path | None = None) -> ReviewDecision:
    """Validate and append one decision as a single line, under an exclusive lock, flushed to disk."""
    decision.validate()
    decision.at = decision.at or datetime.now(UTC).isoformat(timespec="seconds")
    decision.reviewer = decision.reviewer or os.environ.get("WORKBENCH_REVIEWER") or getpass.getuser()
    path = path or reviews_path(slug)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(asdict(decision), ensure_ascii=False) + "\n").encode("utf-8")
    with open(path, "ab") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.seek(0, os.SEEK_END)
            if fh.tell() > 0:  # a previous writer killed mid-line must not corrupt this line
                with open(path, "rb") as rd:
                    rd.seek(-1, os.SEEK_END)
                    if rd.read(1) != b"\n":
                        fh.write(b"\n")
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return decision


def load(slug: str, path: Path | None = None) -> list[ReviewDecision]:
    """Every decision in file order; a torn (unterminated or unparsable) line is skipped with a warning."""
    path = path or reviews_path(slug)
    if not path.exists():
        return []
    out: list[ReviewDecision] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            dec = ReviewDecision(**{k: data.get(k) for k in ReviewDecision.__dataclass_fields__ if k in data})
            dec.validate()
        except (json.JSONDecodeError, TypeError, ReviewError) as exc:
            warnings.warn(f"{path}:{lineno}: skipped unreadable review line ({exc})", stacklevel=2)
            continue
        out.append(dec)
    return out


def latest(slug: str, path: Path | None = None) -> dict[tuple[str, str], ReviewDecision]:
    """(kind, id) -> the last decision made for it."""
    return {(d.kind, d.id): d for d in load(slug, path)}
