"""Retrieval: fusion, metrics, dense index, query expansion and the `eval retrieval` command."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from helpers import config
from helpers.cli import app
from helpers.evaluation.retrieval import evaluate, load_beir, write_trec
from helpers.params import load_params, parse_params
from helpers.retrieval.dense import DenseIndex, year_mask
from helpers.retrieval.embed import DIM, normalise
from helpers.retrieval.feedback import rm3_weights
from helpers.retrieval.query import build_query_plan, facets
from helpers.retrieval.search import minmax_fusion, rrf
from helpers.retrieval.stage import plan_queries
from helpers.retrieval.store import CorpusStore, Hit
from helpers.text import query_key, unique_queries


def hits(*ids: str) -> list[Hit]:
    return [Hit(d, 10.0 - i) for i, d in enumerate(ids)]


# -- fusion ---------------------------------------------------------------------------------------

def test_rrf_hand_checked():
    fused = rrf([hits("x", "y", "z"), hits("y", "w")], k=60)
    assert [h.doc_id for h in fused] == ["y", "x", "w", "z"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert fused[3].score == pytest.approx(1 / 63)
    weighted = rrf([hits("x", "y", "z"), hits("y", "w")], k=60, weights=[1.0, 2.0])
    assert [h.doc_id for h in weighted] == ["y", "w", "x", "z"]
    assert weighted[1].score == pytest.approx(2 / 62)


def test_rrf_ties_keep_first_appearance_and_empty_lists():
    assert [h.doc_id for h in rrf([hits("a"), hits("b")])] == ["a", "b"]
    assert rrf([[], []]) == []


def test_minmax_fusion_hand_checked():
    a = [Hit("x", 10.0), Hit("y", 5.0), Hit("z", 0.0)]  # normalised 1, .5, 0
    b = [Hit("y", 0.9), Hit("x", 0.5)]  # normalised 1, 0
    fused = minmax_fusion([a, b], weights=[0.5, 0.5])
    assert [h.doc_id for h in fused] == ["y", "x", "z"]
    assert fused[0].score == pytest.approx(0.75)
    assert fused[1].score == pytest.approx(0.5)
    # a list whose scores are all equal counts every hit as best, not worst
    assert minmax_fusion([[Hit("x", 3.0)], []], [0.6, 0.4])[0].score == pytest.approx(0.6)


# -- metrics --------------------------------------------------------------------------------------

def test_hybrid_scored_keeps_each_hits_raw_scores(monkeypatch):
    import helpers.retrieval.search as search_mod

    lex = [Hit("a", 30.0), Hit("b", 12.0), Hit("c", 0.0)]  # BM25: min-max a 1, b 0.4, c 0
    den = [Hit("b", 0.9), Hit("d", 0.5), Hit("a", 0.4)]  # cosine: b 1, d 0.2, a 0
    monkeypatch.setattr(search_mod, "_lists", lambda store, lexical_query, query, k, kw: (lex, den))
    rows = search_mod.hybrid_scored(None, "q", k=4)  # fused with dense weight 0.4
    assert [h.doc_id for h, _ in rows] == ["b", "a", "d", "c"]
    assert [r for _, r in rows] == [pytest.approx(x) for x in ([0.9, 12.0, 0.64], [0.4, 30.0, 0.6],
                                                                [0.5, 0.0, 0.08], [0.0, 0.0, 0.0])]
    assert [h.doc_id for h in search_mod.hybrid(None, "q", k=3)] == ["b", "a", "d"]


def test_metrics_hand_checked():
    qrels = {"q1": {"d1": 1, "d3": 1}, "q2": {"d5": 1}}
    run = {"q1": [("d1", 3.0), ("d2", 2.0), ("d3", 1.0)], "q2": [("d4", 1.0)]}
    ndcg_q1 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    scores = evaluate(run, qrels)
    assert scores["nDCG@10"] == pytest.approx(ndcg_q1 / 2)
    assert scores["R@100"] == pytest.approx(0.5)
    assert evaluate(run, qrels, ["q1"])["nDCG@10"] == pytest.approx(ndcg_q1)
    # a judged query with no results counts as zero instead of being skipped
    assert evaluate({"q1": run["q1"]}, qrels)["nDCG@10"] == pytest.approx(ndcg_q1 / 2)


def test_metrics_follow_rank_order_not_raw_scores():
    qrels = {"q": {"b": 1}}
    assert evaluate({"q": [("a", 1.0), ("b", 1.0)]}, qrels)["nDCG@10"] == pytest.approx(1 / math.log2(3))


def test_trec_run_file(tmp_path):
    write_trec({"q1": [("d1", 2.5), ("d2", 1.0)]}, tmp_path / "run.tsv", tag="hybrid")
    lines = (tmp_path / "run.tsv").read_text().splitlines()
    assert lines == ["q1 Q0 d1 1 2.500000 hybrid", "q1 Q0 d2 2 1.000000 hybrid"]


# -- dense index ------------------------------------------------------------------------------------

def test_dense_search_matches_bruteforce_oracle():
    rng = np.random.default_rng(0)
    vecs = normalise(rng.normal(size=(500, DIM)).astype(np.float32))
    ids = [f"d{i}" for i in range(500)]
    index = DenseIndex(ids, vecs, embedder=object())  # embedder unused by search_vector
    years = rng.integers(2018, 2026, size=500)
    for _ in range(5):
        q = normalise(rng.normal(size=(1, DIM)).astype(np.float32))[0]
        oracle = np.argsort(-(vecs @ q), kind="stable")[:20]
        assert [h.doc_id for h in index.search_vector(q, k=20)] == [ids[i] for i in oracle]
        mask = year_mask(years, (2020, 2022))
        allowed = np.flatnonzero(mask)
        oracle = allowed[np.argsort(-(vecs[allowed] @ q), kind="stable")[:20]]
        assert [h.doc_id for h in index.search_vector(q, k=20, allowed=mask)] == [ids[i] for i in oracle]
    assert len(index.search_vector(q, k=10_000)) == 500


def test_year_mask_keeps_unknown_years():
    mask = year_mask(np.array([0, 2019, 2021, 2024]), (2020, None))
    assert mask.tolist() == [True, False, True, True]
    assert year_mask(np.array([2020]), (None, None)) is None


class CountingEmbedder:
    """Deterministic fake embedder that records how many texts it embedded."""

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts, batch_size=None, progress=False, on_batch=None):
        self.calls += len(texts)
        out = np.zeros((len(texts), DIM), np.float32)
        for i, t in enumerate(texts):
            out[i, hash(t) % DIM] = 1.0
        return out


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_embedding_cache_embeds_each_document_once(tmp_path):
    rows = [{"_id": str(i), "title": f"title {i}", "text": f"text number {i}"} for i in range(6)]
    src = _jsonl(tmp_path / "c.jsonl", rows)
    store = CorpusStore.build("c", src, tmp_path / "c.sqlite", progress=False)
    fake = CountingEmbedder()
    first = DenseIndex.for_store(store, max_length=32, progress=False, embedder=fake)
    assert fake.calls == 6
    again = DenseIndex.for_store(store, max_length=32, progress=False, embedder=fake)
    assert fake.calls == 6 and np.array_equal(first.vectors, again.vectors)
    # one changed and one new document: only those two are embedded after the store is rebuilt
    rows[2]["text"] = "changed"
    src = _jsonl(tmp_path / "c.jsonl", rows + [{"_id": "9", "title": "new", "text": "doc"}])
    store = CorpusStore.build("c", src, tmp_path / "c.sqlite", progress=False)
    third = DenseIndex.for_store(store, max_length=32, progress=False, embedder=fake)
    assert fake.calls == 8 and third.vectors.shape == (7, DIM)
    assert np.array_equal(third.vectors[0], first.vectors[0])


# -- query construction -------------------------------------------------------------------------------

def test_rm3_weights_hand_checked():
    df, n = Counter({"moe": 1, "routing": 3, "model": 9}), 10
    w = rm3_weights(["moe routing", "routing model"], [3.0, 1.0], df, n)
    assert w["moe"] == pytest.approx(0.75 * 0.5 * math.log(11 / 1.5))
    assert w["routing"] == pytest.approx((0.75 * 0.5 + 0.25 * 0.5) * math.log(11 / 3.5))
    assert w.most_common(1)[0][0] == "moe"


def test_query_plan_facets_and_api():
    q = ("Does integrating sparse expert routing in alignment-focused multimodal models improve inference "
         "throughput without degrading performance on standard reasoning benchmarks?")
    plan = build_query_plan(q, ["mixture-of-experts"])
    assert "mixture-of-experts" in plan.main and "sparse" in plan.main and "does" not in plan.main.split()
    assert plan.facets == facets(q) and len(plan.facets) >= 2
    assert plan.expansion == [] and plan.queries == [plan.main, *plan.facets]


def test_a_query_plan_never_holds_the_same_query_twice():
    # a one-clause question: its only facet is the main query (issue 20: each source was asked twice)
    q = "Does speculative decoding speed up large language model inference?"
    plan = build_query_plan(q)
    assert plan.queries == ["speculative decoding speed language model inference"] and plan.facets == []
    assert not plan.add("  Speculative decoding SPEED language model   inference? ")  # the same, normalised
    assert plan.add("speculative decoding draft model") and not plan.add("Speculative Decoding draft model.")
    assert plan.queries == ["speculative decoding speed language model inference", "speculative decoding draft model"]
    assert not plan.add("") and not plan.add(" ?! ") and not plan.add(None)
    # the params' criteria and extra queries: repeats of the plan's queries (or of each other) are dropped
    params = parse_params({
        "question": q,
        "criteria": {"include_any": [["speculative decoding", "draft model"], ["speedup", "latency"]]},
        "extra_queries": ["SPECULATIVE DECODING speed language model inference", "draft model latency",
                          "draft  model latency", "speculative decoding draft model speedup latency"],
    })
    plan2 = plan_queries(params)
    assert plan2.queries == ["speculative decoding speed language model inference",
                             "speculative decoding draft model speedup latency", "draft model latency"]
    assert plan2.extra == ["draft model latency"]  # the params' extra queries widen the search, last
    # normalising compares, it does not conflate different queries
    assert query_key("C++ compilers") != query_key("C compilers")
    assert query_key("speed-up decoding") != query_key("speed up decoding")
    assert unique_queries(["a b", "A  b?", "b a", None, "  "]) == ["a b", "b a"]
    # every shipped params file, and questions with repeated clauses, plan each query once
    questions = [load_params(f) for f in sorted((config.REPO_ROOT / "params").glob("*.yaml"))]
    questions += [parse_params({"question": t}) for t in (
        "Do retrieval augmented models help, and do retrieval augmented models help?",
        "Sparse expert routing: sparse expert routing versus dense models (dense models)?",
    )]
    for params in questions:
        keys = [query_key(x) for x in plan_queries(params).queries]
        assert len(keys) == len(set(keys)) and all(keys), params.question


# -- the eval command end to end ------------------------------------------------------------------------

def _tiny_beir(root: Path) -> Path:
    """A BEIR folder from real SciFact lines: the docs judged for the first 8 queries plus 22 others."""
    src = config.data_root() / "beir-scifact"
    if not (src / "corpus.jsonl").exists():
        pytest.skip("BEIR-SciFact data not available")
    qrels = [line.split("\t") for line in (src / "qrels" / "train.tsv").read_text().splitlines()[1:]]
    wanted_q = list(dict.fromkeys(q for q, _, _ in qrels))[:8]
    wanted_d = {d for q, d, _ in qrels if q in wanted_q}
    docs, others = [], []
    with open(src / "corpus.jsonl") as fh:
        for line in fh:
            d = json.loads(line)
            if d["_id"] in wanted_d:
                docs.append(line)
            elif len(others) < 22:
                others.append(line)
    queries = [line for line in open(src / "queries.jsonl") if json.loads(line)["_id"] in wanted_q]
    root.mkdir()
    (root / "qrels").mkdir()
    (root / "corpus.jsonl").write_text("".join(docs + others))
    (root / "queries.jsonl").write_text("".join(queries))
    (root / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join("\t".join(r) + "\n" for r in qrels if r[0] in wanted_q))
    return root


def test_eval_retrieval_command_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_EMBED_MAX_TOKENS", "64")
    folder = _tiny_beir(tmp_path / "tiny")
    out = tmp_path / "run.tsv"
    result = CliRunner().invoke(app, ["eval", "retrieval", "--beir", str(folder), "--out", str(out),
                                      "--top-k", "10", "--method", "hybrid"])
    assert result.exit_code == 0, result.output
    assert "nDCG@10" in result.output and "bm25" in result.output and "median ms" in result.output
    beir = load_beir(folder)
    lines = [line.split() for line in out.read_text().splitlines()]
    assert {line[0] for line in lines} == set(beir.queries)
    assert all(len(line) == 6 and line[1] == "Q0" and line[5] == "hybrid" for line in lines)
    assert all(":" not in line[2] for line in lines)  # store prefix stripped
    run: dict[str, list] = {}
    for qid, _, doc, rank, score, _ in lines:
        run.setdefault(qid, []).append((doc, float(score)))
        assert int(rank) == len(run[qid])
    # with 8 queries over 30-odd documents every method should find most judged documents
    assert evaluate(run, beir.qrels)["R@100"] > 0.8


def test_local_source_pools_facets_expansion_and_question(monkeypatch):
    from helpers.retrieval.sources.local import LocalSource

    monkeypatch.setenv("WORKBENCH_EMBED_MAX_TOKENS", "64")  # embedding the 72 fixture papers: ~4x faster

    q = "Does sparse mixture-of-experts routing improve inference throughput without hurting accuracy?"
    plan = build_query_plan(q)
    res = LocalSource("fixture").search(q, plan.queries, limit=10)
    assert res.status == "ok" and len(res.records) == 10
    assert res.queries[: len(plan.queries)] == plan.queries and res.queries[-1] == q
    assert len(res.queries) == len(plan.queries) + 2  # + PRF-expanded main query + dense question query
    titles = [p.title.lower() for p in res.records[:5]]
    assert sum("expert" in t or "moe" in t for t in titles) >= 4, titles


def test_extra_queries_add_records_and_never_displace_the_questions_own(monkeypatch):
    """An LLM plan's (or the params') extra queries used to share the source's pooled limit with the question's
    own queries, so generic extras crowded on-topic records out of it (seed 1 bare lost 6 of its 15 included)."""
    from helpers.retrieval.sources import local

    monkeypatch.setenv("WORKBENCH_EMBED_MAX_TOKENS", "64")
    q = "Does sparse mixture-of-experts routing improve inference throughput without hurting accuracy?"
    plan = build_query_plan(q)
    extra = ["retrieval augmented generation hallucination", "low-bit quantization memory"]
    own = local.LocalSource("fixture").search(q, plan.queries, limit=10)
    wide = local.LocalSource("fixture").search(q, plan.queries + extra, limit=10, extra=extra)
    own_ids, wide_ids = [p.id for p in own.records], [p.id for p in wide.records]
    assert wide_ids[:10] == own_ids  # the question's own records, in their order, come first
    added = wide_ids[10:]
    assert 0 < len(added) <= 10 * local.EXTRA_SHARE and not set(added) & set(own_ids)
    assert wide.added == added and not own.added  # what screening ranks after, when the extras are an LLM plan's
    titles = " ".join(p.title.lower() for p in wide.records[10:])
    assert "retriev" in titles or "quantiz" in titles, titles  # what the extras are about
    assert wide.queries[-2:] == extra and wide.requested >= own.requested + len(added)
