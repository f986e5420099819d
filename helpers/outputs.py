"""Reading a run's files back from `outputs/<slug>/` (what one stage wrote is what the next stage reads), and
comparing two runs' folders."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .records import Paper


def read_jsonl(path: Path) -> list[dict]:
    """One JSON object per line. Lines end at "\\n" only: `str.splitlines` would also cut at characters a JSON
    string may hold unescaped (U+2028, NEL, ...)."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").split("\n") if line.strip()]


def load_records(out_dir: Path) -> list[dict]:
    """The screened records of `records.jsonl` (written by the retrieval stage), with their decisions."""
    return read_jsonl(Path(out_dir) / "records.jsonl")


def load_analysis(out_dir: Path):
    """The question analysis the retrieval stage wrote (`question.json`)."""
    from .question import QuestionAnalysis

    return QuestionAnalysis.from_dict(json.loads((Path(out_dir) / "question.json").read_text(encoding="utf-8")))


def reference_numbers(included: list[Paper]) -> dict[str, int]:
    """Paper id -> its number in the reference list (the included papers, most relevant first)."""
    return {p.id: i for i, p in enumerate(included, 1)}


def load_json(out_dir: Path, name: str, default=None):
    """A JSON file of the run, or `default` when the stage that writes it did not run."""
    path = Path(out_dir) / name
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else default


def load_papers(out_dir: Path) -> tuple[list[Paper], list[Paper], dict[str, float]]:
    """(included papers, all screened papers, relevance by id) from records.jsonl."""
    recs = load_records(out_dir)
    all_papers = [Paper.from_dict(r) for r in recs]
    inc_ids = {r["id"] for r in recs if r["decision"] == "included"}
    return [p for p in all_papers if p.id in inc_ids], all_papers, {r["id"]: r["relevance"] for r in recs}


# -- comparing two runs ---------------------------------------------------------------------------

# What legitimately differs between two runs of the same question: when they ran, how long they took, where
# the params file lay, the random ids Jupyter gives cells and widgets, and the memory address in an object's repr
# (a Styler's text/plain fallback).
_VOLATILE_TEXT = [
    (re.compile(r"( object)? at 0x[0-9a-f]+>"), r"\1 at <address>>"),
    (re.compile(r"(\*\*Date:\*\*|<strong>Date:</strong>) \d{4}-\d\d-\d\d \d\d:\d\d UTC"), r"\1 <date>"),
    (re.compile(r'id="cell-id=[0-9a-f-]+"'), 'id="cell-id=<id>"'),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<model-id>"),
    (re.compile(r"\bT_[0-9a-f]{5}(?![0-9a-z])"), "T_<styler-id>"),  # pandas Styler's random table id
    (re.compile(r'<script type="application/vnd\.jupyter\.widget-state\+json">.*?</script>', re.S),
     "<widget-state>"),
]
_VOLATILE_MANIFEST = ("timings_s", "finished", "params_file", "code_version")


def _normalised_text(text: str) -> str:
    for pattern, repl in _VOLATILE_TEXT:
        text = pattern.sub(repl, text)
    return text


def _notebook_outputs(path: Path) -> str:
    """A notebook's cell outputs (not its code), with volatile ids normalised."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    return _normalised_text(json.dumps([c.get("outputs", []) for c in nb.get("cells", [])], sort_keys=True))


def comparable(path: Path) -> bytes:
    """A run file's content with what legitimately differs between runs removed (see `compare_runs`)."""
    if path.suffix == ".ipynb":
        return _notebook_outputs(path).encode()
    if path.name == "manifest.json":
        data = json.loads(path.read_text(encoding="utf-8"))
        return json.dumps({k: v for k, v in data.items() if k not in _VOLATILE_MANIFEST}, sort_keys=True).encode()
    if path.suffix in {".md", ".html", ".json", ".csv", ".jsonl", ".bib", ".ris", ".txt"}:
        return _normalised_text(path.read_text(encoding="utf-8")).encode()
    return path.read_bytes()


def compare_runs(a: Path, b: Path) -> list[str]:
    """Differences between two `outputs/<slug>/` folders apart from timestamps, timings, file locations and
    Jupyter's random ids (notebooks are compared by their outputs, not their code); empty means the same."""
    a, b = Path(a), Path(b)
    names_a = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()}
    names_b = {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()}
    problems = [f"only in {a}: {n}" for n in sorted(names_a - names_b)]
    problems += [f"only in {b}: {n}" for n in sorted(names_b - names_a)]
    problems += [f"differs: {n}" for n in sorted(names_a & names_b) if comparable(a / n) != comparable(b / n)]
    return problems
