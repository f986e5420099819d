"""The batch index: `outputs/batch-<name>/index.html` (one self-contained page, every text escaped by Jinja2's
autoescape, no script) and `summary.csv` (the same rows), one row per question of the batch."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from ..atomic import write_text
from ..runner import NOTEBOOKS
from ..text import split_sentences
from .plan import Question, read_manifest

COLUMNS = ["slug", "question", "status", "answer", "certainty", "overall_score", "included", "claims", "run_s",
           "outputs_from", "report", "notebooks", "error", "worker", "ort_threads"]
STATUS_TEXT = {"done": "done", "current": "current (skipped)", "failed": "failed", "not run": "not run",
               "queued": "queued", "running": "queued or running"}


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def first_sentence(text: str) -> str:
    sentences = split_sentences(text or "")
    return sentences[0] if sentences else ""


def question_row(q: Question, outcome: dict, out_root: Path) -> dict:
    """One index row: the outcome of this batch (status, error) and what `outputs/<slug>/` holds now (for a
    failed question, the last good run's outputs, if any, with their date in `outputs_from`)."""
    out_dir = Path(out_root) / q.slug
    manifest = read_manifest(out_dir) or {}
    answer, report = _read_json(out_dir / "answer.json"), _read_json(out_dir / "report.json")
    has_outputs = bool(manifest)
    seconds = outcome.get("seconds")
    if outcome.get("status") in {"done", "current"} or seconds is None:
        seconds = (manifest.get("timings_s") or {}).get("total")
    return {
        "slug": q.slug,
        "question": q.params.question,
        "status": outcome.get("status", "queued"),
        "answer": first_sentence(answer.get("text", "")) if has_outputs else "",
        "certainty": answer.get("certainty", "") if has_outputs else "",
        "overall_score": report.get("overall_score", "") if has_outputs else "",
        "included": report.get("included", "") if has_outputs else "",
        "claims": report.get("claims", "") if has_outputs else "",
        "run_s": seconds if seconds is not None else "",
        "outputs_from": manifest.get("finished", ""),
        "report": f"../{q.slug}/report.html" if (out_dir / "report.html").exists() else "",
        "notebooks": ";".join(f"../{q.slug}/{nb}.html" for nb in NOTEBOOKS if (out_dir / f"{nb}.html").exists()),
        "error": outcome.get("error", ""),
        "worker": outcome.get("worker", ""),  # where this batch ran it (blank: skipped or not run)
        "ort_threads": outcome.get("ort_threads", ""),
    }


def summary_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: row[k] for k in COLUMNS} for row in rows)
    return buf.getvalue()


def render_index(rows: list[dict], meta: dict) -> str:
    env = Environment(loader=PackageLoader("helpers.batch", "templates"), autoescape=select_autoescape(["html", "j2"]))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return env.get_template("index.html.j2").render(rows=rows, meta=meta, counts=counts, status_text=STATUS_TEXT,
                                                    notebook_names=NOTEBOOKS)


def write_index(questions: list[Question], outcomes: dict[str, dict], out_root: Path, index_dir: Path,
                meta: dict) -> list[dict]:
    """Write `index.html` and `summary.csv` under `index_dir` (each atomically); returns the rows."""
    rows = [question_row(q, outcomes.get(q.slug, {}), out_root) for q in questions]
    meta = {**meta, "updated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    write_text(index_dir / "summary.csv", summary_csv(rows))
    write_text(index_dir / "index.html", render_index(rows, meta))
    return rows
