"""Test session set-up shared by tests/ and the nbval notebook run.

Every test session gets its own cache, outputs and reviews folders (nothing under the repository's
outputs/ or params/reviews/ is touched) and a small fixture corpus cut from the real arXiv abstracts in the
data root, registered as the corpus `fixture`. The environment is set before any kernel starts, so
notebooks executed by nbval or papermill see the same folders.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
_TMP: Path | None = None


def pytest_configure(config) -> None:
    global _TMP
    if os.environ.get("WORKBENCH_TEST_SESSION"):
        return  # a nested run (e.g. a subprocess) reuses its parent's folders
    _TMP = Path(tempfile.mkdtemp(prefix="workbench-tests-"))
    env = {
        "WORKBENCH_CACHE_DIR": str(_TMP / "cache"),
        "WORKBENCH_OUTPUTS_DIR": str(_TMP / "outputs"),
        "WORKBENCH_REVIEWS_DIR": str(_TMP / "reviews"),
        "WORKBENCH_PARAMS": str(ROOT / "tests" / "fixtures" / "fixture.yaml"),
        "WORKBENCH_TEST_SESSION": "1",
        "MPLBACKEND": "Agg",
    }
    os.environ.update(env)
    from tests.fixture_corpus import register_fixture_corpus

    register_fixture_corpus(_TMP / "fixture-corpus.jsonl")


def pytest_unconfigure(config) -> None:
    if _TMP is not None:
        shutil.rmtree(_TMP, ignore_errors=True)
