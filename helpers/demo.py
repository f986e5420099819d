"""`workbench demo` (what `make demo` runs): the seed questions from a fresh clone, saying what it does and about
how long each step will take.

Steps: the corpora's search stores (SQLite FTS5; a progress bar), a short measurement of how fast this machine
embeds right now (which the estimates use), then each question (`runner.run`, a progress bar per notebook). The
first question does not wait for the full dense index: its dense scores are computed on demand for the BM25
candidates it needs (`retrieval/ondemand.py`). After the first report the full index is built in the background
at the lowest priority (`full_index="background"`, the default), or before the questions (`"before"`), or not
at all (`"skip"`); later questions use it once it is complete.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from . import config
from .params import Params, load_params

FULL_INDEX = ("background", "before", "skip")
# Seconds a question takes beyond embedding its candidates (kernels, screening, claims, scoring, report),
# measured on 2 idle cores with the full index (docs/benchmarks.md, Pipeline run time); scaled by the
# machine's speed now against EMBED_REF (the 2-idle-core embedding rate at 64 tokens).
QUESTION_OVERHEAD_S = 30.0
EMBED_REF = 90.0


@dataclass
class Step:
    name: str
    estimate_s: float | None
    took_s: float = 0.0


def say(text: str) -> None:
    print(text, flush=True)


def _mins(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def local_corpora(params: list[Params]) -> list[str]:
    return list(dict.fromkeys(s.name.split(":", 1)[1] for p in params for s in p.sources if s.name.startswith("local:")))


def probe_rate(store, n: int = 96) -> float:
    """Documents/s this machine embeds the corpus's abstracts at right now (n documents, kept in the cache)."""
    from .retrieval.dense import embed_length
    from .retrieval.ondemand import OnDemandIndex

    index = OnDemandIndex(store, embed_length(store))
    ids = store.doc_ids()[:: max(1, len(store) // n)][:n]
    index.vectors(ids[:8])  # warm-up: session start
    t0 = time.perf_counter()
    index.vectors(ids[8:])
    return max(1.0, (len(ids) - 8) / max(1e-6, time.perf_counter() - t0))


def candidates_to_embed(params: Params) -> int:
    """About how many documents the question will embed on demand: its queries' BM25 candidates that have no
    cached vector yet, plus a sixth for the feedback query."""
    from .retrieval.dense import embed_length
    from .retrieval.search import DEPTH, HYBRID_TITLE_WEIGHT, bm25
    from .retrieval.stage import plan_queries
    from .retrieval.store import open_corpus
    from .retrieval.vectors import VectorCache, text_key

    total = 0
    for spec in params.sources:
        if not spec.name.startswith("local:"):
            continue
        store = open_corpus(spec.name.split(":", 1)[1], progress=False)
        ids: set[str] = set()
        for q in plan_queries(params).queries:
            ids |= {h.doc_id for h in bm25(store, q, k=max(spec.limit, DEPTH), title_weight=HYBRID_TITLE_WEIGHT,
                                           year_range=params.year_range)}
        cache = VectorCache(store, embed_length(store))
        cache.refresh()
        texts = store.texts_for(ids)
        total += round(len(cache.missing([text_key(t) for t in texts.values()])) * 7 / 6)
    return total


def run_demo(params_files: list[Path], full_index: str = "background", out_root: Path | None = None) -> list[Step]:
    """Run the questions as `make demo` does, printing each step with its estimate and its time."""
    from .retrieval import indexing
    from .retrieval.embed import _threads
    from .retrieval.feedback import _doc_freq
    from .retrieval.store import open_corpus, store_path
    from .runner import run

    if full_index not in FULL_INDEX:
        raise ValueError(f"full_index={full_index!r}: expected one of {', '.join(FULL_INDEX)}")
    started = time.perf_counter()
    params = [load_params(f) for f in params_files]  # all validated before anything runs
    corpora = local_corpora(params)
    steps: list[Step] = []
    say(f"Evidence Workbench demo: {len(params)} questions on {', '.join(corpora) or 'online sources'}; cache "
        f"{config.cache_dir()}, embedder on {_threads()} threads.")
    stores = {}
    for name in corpora:
        fresh = not store_path(name).exists()
        step = Step(f"search store of {name}", 20.0 if fresh else 1.0)
        say(f"\n[store] {name}: " + ("building the SQLite FTS5 search store from the JSONL (once; about 10-30 s)"
                                     if fresh else "checking the search store (about 1 s)"))
        t0 = time.perf_counter()
        stores[name] = store = open_corpus(name)
        _doc_freq(store.db_path, store.name)  # term statistics for query feedback (once; ~5 s)
        step.took_s = time.perf_counter() - t0
        steps.append(step)
        say(f"        {len(store):,} documents ready in {step.took_s:.0f} s")
    rate = EMBED_REF
    for name, store in stores.items():
        st = indexing.state(store)
        if st.complete:
            say(f"\n[index] {name}: {st.describe()}: dense scores come from it.")
            continue
        t0 = time.perf_counter()
        rate = probe_rate(store)
        missing = st.missing
        say(f"\n[index] {name}: {st.describe()}. This machine embeds about {rate:.0f} documents/s now, so the "
            f"full index would take about {_mins(missing / rate)}.")
        if full_index == "before":
            step = Step(f"full dense index of {name}", missing / rate)
            say(f"        building it now (resumable; about {_mins(step.estimate_s)}):")
            indexing.build(store)
            step.took_s = time.perf_counter() - t0
            steps.append(step)
        else:
            say("        The questions do not wait for it: dense scores are computed on demand for the BM25 "
                "candidates each question needs, and each report says so in its methods.")
    started_background = full_index != "background"
    for i, (path, prm) in enumerate(zip(params_files, params, strict=True), 1):
        todo = candidates_to_embed(prm)
        slow = max(1.0, min(4.0, EMBED_REF / rate))
        step = Step(f"question {i}: {prm.slug}", todo / rate + QUESTION_OVERHEAD_S * slow)
        say(f"\n[question {i}/{len(params)}] {prm.slug}: about {_mins(step.estimate_s)}"
            + (f" (embeds about {todo:,} candidate abstracts on demand, then screens, verifies the claims, "
               f"scores and writes the report)" if todo else " (retrieval, screening, claims, scoring, report)"))
        t0 = time.perf_counter()
        result = run(path, out_root=out_root, progress=True)
        step.took_s = time.perf_counter() - t0
        steps.append(step)
        say(f"        report: {result.out_dir / 'report.html'} ({_mins(step.took_s)}; "
            f"{_mins(time.perf_counter() - started)} since the demo started)")
        if not started_background:
            started_background = True
            for name, store in stores.items():
                st = indexing.state(store)
                if st.complete:
                    continue
                pid, log = indexing.start_background(store)
                left = st.missing
                say(f"\n[index] {name}: " + (f"full index build started in the background (pid {pid}, lowest CPU "
                                             f"priority; about {_mins(left / rate)} at the rate measured above, "
                                             f"longer while questions run; log {log}). "
                                             if pid else f"{st.describe()}. ")
                    + "Questions use it once it is complete; `workbench corpus list` shows how far it is.")
    say("\nstep | estimate | took\n---|---|---")
    for s in steps:
        say(f"{s.name} | {_mins(s.estimate_s) if s.estimate_s is not None else '-'} | {_mins(s.took_s)}")
    say(f"all steps: {_mins(time.perf_counter() - started)}")
    return steps
