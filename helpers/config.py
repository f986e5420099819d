"""Paths in one place: data root, cache, outputs, models. Each can be overridden from the environment."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def data_root() -> Path:
    """Root of the shared read-only data (`WORKBENCH_DATA_ROOT`, default `../shared/data`)."""
    return _env_path("WORKBENCH_DATA_ROOT", REPO_ROOT.parent / "shared" / "data")


def cache_dir() -> Path:
    """Where stores, embeddings and HTTP caches live (`WORKBENCH_CACHE_DIR`, default `.cache/`)."""
    path = _env_path("WORKBENCH_CACHE_DIR", REPO_ROOT / ".cache")
    path.mkdir(parents=True, exist_ok=True)
    return path


def outputs_dir() -> Path:
    """Where `workbench run` writes `outputs/<slug>/` (`WORKBENCH_OUTPUTS_DIR`)."""
    return _env_path("WORKBENCH_OUTPUTS_DIR", REPO_ROOT / "outputs")


def reviews_dir() -> Path:
    """Where a person's review decisions live (`WORKBENCH_REVIEWS_DIR`, default `params/reviews/`)."""
    return _env_path("WORKBENCH_REVIEWS_DIR", REPO_ROOT / "params" / "reviews")


def models_dir() -> Path:
    """Model files shipped with the repository (`WORKBENCH_MODELS_DIR`, default `models/`)."""
    return _env_path("WORKBENCH_MODELS_DIR", REPO_ROOT / "models")


def notebooks_dir() -> Path:
    """The notebooks `workbench run` executes (`WORKBENCH_NOTEBOOKS_DIR`, default `notebooks/`)."""
    return _env_path("WORKBENCH_NOTEBOOKS_DIR", REPO_ROOT / "notebooks")


# Named corpora known out of the box: name -> path relative to the data root.
DEFAULT_CORPORA: dict[str, str] = {
    "arxiv-cs": "arxiv-cs/papers.jsonl.gz",
    "llm-landmarks": "llm-landmarks/papers.jsonl",
    "scifact": "scifact/corpus.jsonl",
    "beir-scifact": "beir-scifact/corpus.jsonl",
}
# Word pieces of "title. abstract" embedded per document, where a corpus needs fewer than the default 256: arXiv
# abstracts state their topic in the title and first sentence, and 64 tokens embed ~5x faster (docs/benchmarks.md).
EMBED_MAX_TOKENS: dict[str, int] = {"arxiv-cs": 64}
