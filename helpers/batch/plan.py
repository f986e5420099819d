"""Before a batch runs: every params file validated, one slug per question, and which questions are current.

A question is current (and skipped unless `--force`) when `outputs/<slug>/manifest.json` exists, its files are
all there, and it was made from the same params, the same code version, the same corpus fingerprints and the same
review decisions as the batch would use now. `manifest.json` is written only by a run whose four notebooks all
succeeded, so its presence means the outputs are good.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParamsError, WorkbenchError
from ..manifest import code_version, corpus_fingerprints, reviews_fingerprint
from ..params import Params, load_params
from ..runner import NOTEBOOKS

# Files every good run leaves (besides the notebooks and their HTML).
REQUIRED = ("manifest.json", "answer.json", "report.json", "report.html", "report.md", "review.json", "prisma.json")


class BatchError(WorkbenchError):
    """The batch cannot start: some params files are invalid, or two questions share a slug."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Question:
    path: Path
    params: Params

    @property
    def slug(self) -> str:
        return self.params.slug or ""


def load_questions(paths: list[str | Path]) -> list[Question]:
    """Every params file validated (all problems reported at once, each naming its file and field); raises
    `BatchError` if any is invalid or if two files would write the same `outputs/<slug>/`."""
    questions: list[Question] = []
    problems: list[str] = []
    for raw in paths:
        path = Path(raw).resolve()
        try:
            questions.append(Question(path, load_params(path)))
        except ParamsError as exc:
            problems.append(str(exc))
    by_slug: dict[str, Path] = {}
    for q in questions:
        if q.slug in by_slug:
            if by_slug[q.slug] == q.path:
                problems.append(f"{q.path}: <file>: named twice in the batch")
            else:
                problems.append(f"{q.path}: slug: '{q.slug}' is also the slug of {by_slug[q.slug]}")
        by_slug.setdefault(q.slug, q.path)
    if problems:
        raise BatchError(problems)
    return questions


def read_manifest(out_dir: Path) -> dict | None:
    path = Path(out_dir) / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def staleness(question: Question, out_root: Path, corpora_seen: dict[str, dict] | None = None) -> str | None:
    """Why `outputs/<slug>/` is not current for this question (a short phrase), or None when it is.
    `corpora_seen` keeps each corpus's fingerprint across the questions of one batch (each is a sha256 of the
    corpus file)."""
    out_dir = Path(out_root) / question.slug
    manifest = read_manifest(out_dir)
    if manifest is None:
        return "no finished outputs"
    expected = list(REQUIRED) + [f"{nb}{ext}" for nb in NOTEBOOKS for ext in (".ipynb", ".html")]
    missing = [name for name in expected if not (out_dir / name).exists()]
    if missing:
        return f"outputs incomplete ({missing[0]} missing)"
    if manifest.get("params") != json.loads(json.dumps(question.params.model_dump())):
        return "params changed"
    if manifest.get("code_version") != code_version():
        return f"code version changed ({manifest.get('code_version')} -> {code_version()})"
    seen = {} if corpora_seen is None else corpora_seen
    try:
        for name in {s.name for s in question.params.sources} - set(seen):
            seen[name] = corpus_fingerprints([name]).get(name)
    except WorkbenchError as exc:
        return f"corpus unavailable ({exc})"
    corpora = {s.name: seen[s.name] for s in question.params.sources if seen.get(s.name) is not None}
    if manifest.get("corpora") != corpora:
        return "corpus changed"
    if manifest.get("reviews") != reviews_fingerprint(question.slug):
        return "review decisions changed"
    return None


def default_name(questions: list[Question]) -> str:
    """The batch's name when none is given: the folder holding all its params files (e.g. `params`), else
    `batch` (so re-running the same files rewrites the same index)."""
    from ..params import slugify

    parents = {q.path.parent for q in questions}
    name = slugify(parents.pop().name) if len(parents) == 1 else ""
    return name or "batch"
