"""`workbench eval retrieval`: run a retrieval method over a BEIR folder and score it with ir-measures.

Writes a TREC run file (`qid Q0 docid rank score tag`) for every query in queries.jsonl and reports
nDCG@10 / Recall@100 (on the queries that have qrels), index build time and per-query latency, with BM25
measured in the same run as the comparison row. Queries are also split by a fixed hash into a tuning part
(70%) and a validation part (30%), so tuned settings can be checked on queries they were not tuned on.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import config
from ..retrieval.store import CorpusStore, fingerprint

MEASURES = ("nDCG@10", "R@100")
VALIDATION_FRACTION = 0.3


@dataclass
class BeirSet:
    name: str
    corpus: Path
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_beir(folder: Path, split: str = "train") -> BeirSet:
    """Queries and qrels (`qrels/<split>.tsv`, if present) of a BEIR folder."""
    folder = Path(folder)
    corpus = folder / "corpus.jsonl"
    if not corpus.exists():
        raise FileNotFoundError(f"{corpus}: not a BEIR folder (corpus.jsonl missing)")
    queries: dict[str, str] = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                obj = json.loads(line)
                queries[str(obj["_id"])] = obj["text"]
    qrels: dict[str, dict[str, int]] = {}
    path = folder / "qrels" / f"{split}.tsv"
    if path.exists():
        with open(path, encoding="utf-8") as fh:
            for row in csv.reader(fh, delimiter="\t"):
                if not row or row[0] == "query-id":
                    continue
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return BeirSet(folder.resolve().name, corpus, queries, qrels)


def is_validation(qid: str, fraction: float = VALIDATION_FRACTION) -> bool:
    """Fixed hash split of query ids: True for the validation part (never tuned on)."""
    h = int.from_bytes(hashlib.sha256(f"val:{qid}".encode()).digest()[:8], "big")
    return h / 2**64 < fraction


def beir_store(beir: BeirSet, progress: bool = True) -> tuple[CorpusStore, float]:
    """The store for a BEIR corpus (built once, reused while the file is unchanged) and its build seconds."""
    from ..retrieval.store import registered, store_path

    same = [n for n, p in registered().items() if Path(p).resolve() == beir.corpus.resolve()]
    if same:
        name, db = same[0], store_path(same[0])
    else:
        tag = hashlib.sha256(str(beir.corpus.resolve()).encode()).hexdigest()[:8]
        name = f"beir-{beir.name}"
        db = config.cache_dir() / "corpora" / f"{name}-{tag}.sqlite"
    if db.exists():
        store = CorpusStore(db, name)
        if store.meta().get("fingerprint") == fingerprint(beir.corpus):
            return store, 0.0
        store.close()
    t0 = time.perf_counter()
    store = CorpusStore.build(name, beir.corpus, db, progress=progress)
    return store, time.perf_counter() - t0


@dataclass
class RunResult:
    method: str
    run: dict[str, list[tuple[str, float]]]
    latencies: list[float] = field(default_factory=list)

    def latency_ms(self) -> tuple[float, float]:
        lat = np.array(self.latencies) * 1000
        return (float(np.median(lat)), float(np.percentile(lat, 95))) if len(lat) else (0.0, 0.0)


def run_queries(store: CorpusStore, queries: dict[str, str], method: str, k: int = 100,
                progress: bool = False, **kw) -> RunResult:
    """Run `method` for every query, timing each; doc ids lose the store's `name:` prefix."""
    from ..retrieval.search import search

    prefix = f"{store.name}:"
    result = RunResult(method, {})
    items: Iterable = queries.items()
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, total=len(queries), desc=method, unit=" q", mininterval=2)
    for qid, text in items:
        t0 = time.perf_counter()
        hits = search(store, text, k=k, method=method, **kw)
        result.latencies.append(time.perf_counter() - t0)
        result.run[qid] = [(h.doc_id.removeprefix(prefix), h.score) for h in hits]
    return result


def write_trec(run: dict[str, list[tuple[str, float]]], path: Path, tag: str) -> None:
    """TREC run format: `qid Q0 docid rank score tag`, ranks from 1."""
    from ..atomic import write_text

    lines = [f"{qid} Q0 {doc} {rank} {score:.6f} {tag}"
             for qid, hits in run.items() for rank, (doc, score) in enumerate(hits, 1)]
    write_text(Path(path), "\n".join(lines) + ("\n" if lines else ""))


def evaluate(run: dict[str, list[tuple[str, float]]], qrels: dict[str, dict[str, int]],
             qids: Iterable[str] | None = None) -> dict[str, float]:
    """Mean nDCG@10 and R@100 over the queries with qrels (restricted to `qids` if given).

    A judged query missing from the run counts as 0 (ir-measures would silently skip it).
    """
    import ir_measures
    from ir_measures import R, nDCG

    wanted = set(qrels) if qids is None else set(qids) & set(qrels)
    if not wanted:
        return {m: float("nan") for m in MEASURES}
    sub_qrels = {q: qrels[q] for q in wanted}
    # ir-measures ranks by score: feed it scores that follow our rank order exactly
    sub_run = {q: {d: float(len(run[q]) - i) for i, (d, _) in enumerate(run[q])} for q in wanted if run.get(q)}
    per_query = {str(m): {} for m in (nDCG @ 10, R @ 100)}
    for metric in ir_measures.iter_calc([nDCG @ 10, R @ 100], sub_qrels, sub_run):
        per_query[str(metric.measure)][metric.query_id] = metric.value
    return {name: sum(per_query[name].values()) / len(wanted) for name in MEASURES}


def format_table(rows: list[dict]) -> str:
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    head = " | ".join(c.ljust(widths[c]) for c in cols)
    sep = "-|-".join("-" * widths[c] for c in cols)
    body = [" | ".join(str(r[c]).ljust(widths[c]) for c in cols) for r in rows]
    return "\n".join([head, sep, *body])


def eval_retrieval(folder: Path, out: Path, top_k: int = 100, method: str | None = None,
                   split: str = "train", compare_bm25: bool = True, progress: bool = True,
                   on_demand: bool = False) -> list[dict]:
    """Run, write and score one method (plus BM25 for comparison); returns the table rows. With `on_demand`,
    the same method is also run with dense scores over each query's BM25 candidates only (the path a corpus
    without a full index takes), in the same run."""
    from ..retrieval.search import DEFAULT_METHOD, dense_index

    method = method or DEFAULT_METHOD
    beir = load_beir(folder, split)
    store, store_s = beir_store(beir, progress=progress)
    index_s = {"store": store_s}
    if method != "bm25":
        from ..retrieval.dense import DenseIndex

        t0 = time.perf_counter()
        DenseIndex.for_store(store, progress=progress)  # embeds what is not cached, whatever the corpus size
        dense_index(store)
        index_s["dense"] = time.perf_counter() - t0
    methods = [(method, {})]
    if on_demand and method != "bm25":
        methods.append((method, {"dense_scope": "candidates"}))
    if compare_bm25 and method != "bm25":
        methods.append(("bm25", {}))
    rows = []
    val = {q for q in beir.qrels if is_validation(q)}
    tune = set(beir.qrels) - val
    for name, kw in methods:
        res = run_queries(store, beir.queries, name, k=top_k, progress=progress, **kw)
        if name == method and not kw:
            write_trec(res.run, out, tag=name)
        elif kw:
            write_trec(res.run, out.with_name(f"{out.stem}.on-demand{out.suffix}"), tag=f"{name}-on-demand")
        med, p95 = res.latency_ms()
        label = f"{name} (on demand: BM25 candidates)" if kw else name
        row = {"method": label, "queries": len(res.run), "judged": len(beir.qrels)}
        for part, qids in (("all", None), ("tune", tune), ("val", val)):
            scores = evaluate(res.run, beir.qrels, qids)
            row[f"nDCG@10 {part}"] = f"{scores['nDCG@10']:.4f}"
            row[f"R@100 {part}"] = f"{scores['R@100']:.4f}"
        row["median ms"], row["p95 ms"] = f"{med:.1f}", f"{p95:.1f}"
        rows.append(row)
    print(f"{beir.name} ({split}): {len(beir.queries)} queries, {len(beir.qrels)} judged "
          f"({len(tune)} tune / {len(val)} val); index build: "
          + ", ".join(f"{k} {v:.1f} s" + (" (cached)" if v == 0.0 else "") for k, v in index_s.items()))
    print(format_table(rows))
    print(f"run file: {out}" + (f" (on demand: {out.with_name(f'{out.stem}.on-demand{out.suffix}')})"
                                 if on_demand and method != "bm25" else ""))
    return rows
