"""On-demand dense scores: the same cosines as the full index, one cache shared with it, honest methods.

The real MiniLM embedder runs here (64 tokens, a few dozen fixture abstracts), because what is tested is that
vectors computed along different paths (alone, in a batch, on demand, in a full build) are the same vectors.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers.retrieval import search as search_mod
from helpers.retrieval.dense import DenseIndex
from helpers.retrieval.embed import Embedder, get_embedder
from helpers.retrieval.ondemand import OnDemandIndex
from helpers.retrieval.store import CorpusStore, embed_text, open_corpus
from helpers.retrieval.vectors import cache_paths, text_key

TOKENS = 64


class Counting:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, max_length: int = TOKENS) -> None:
        self.inner = get_embedder(max_length)
        self.max_length = max_length
        self.texts: list[str] = []

    def encode(self, texts, batch_size=None, progress=False, on_batch=None):
        self.texts += list(texts)
        return self.inner.encode(texts, batch_size=batch_size, on_batch=on_batch)


@pytest.fixture()
def store(tmp_path) -> CorpusStore:
    """A private copy of the fixture corpus's store (its caches land in tmp_path)."""
    src = open_corpus("fixture", progress=False)
    shutil.copy(src.db_path, tmp_path / "fx.sqlite")
    return CorpusStore(tmp_path / "fx.sqlite", "fx")


def _texts(store: CorpusStore) -> list[str]:
    return store.texts()


# -- on demand against the full index --------------------------------------------------------------

def test_on_demand_scores_equal_the_full_index(store, tmp_path):
    ids = store.doc_ids()
    query = "speculative decoding draft model speedup"
    od = OnDemandIndex(store, TOKENS)
    sims = od.similarity(query, ids[:30] + ["nope"])
    # the full index, built from scratch in another folder (no vector shared with the on-demand ones)
    (tmp_path / "other").mkdir()
    shutil.copy(store.db_path, tmp_path / "other" / "fx.sqlite")
    full = DenseIndex.for_store(CorpusStore(tmp_path / "other" / "fx.sqlite", "fx"), TOKENS, progress=False)
    np.testing.assert_allclose(sims[:30], full.similarity(query, ids[:30]), atol=1e-6)
    assert sims[30] == 0.0  # an id not in the store
    # brute-force oracle: cosine of the query vector with each document vector
    qv = get_embedder(TOKENS).encode([query])[0]
    oracle = full.vectors[:30] @ qv
    assert [h.doc_id for h in od.rank(query, ids[:30])] == [ids[i] for i in np.argsort(-oracle, kind="stable")]


def test_on_demand_vectors_are_cached_and_reused_by_the_full_build(store):
    first = Counting()
    od = OnDemandIndex(store, TOKENS, embedder=first)
    ids = store.doc_ids()
    vecs = od.vectors(ids[:20])
    assert len(first.texts) == 20
    od.vectors(ids[:25])
    assert len(first.texts) == 25  # only the 5 new ones
    # another process (a fresh object) finds them on disk
    again = Counting()
    assert np.array_equal(OnDemandIndex(store, TOKENS, embedder=again).vectors(ids[:25])[:20], vecs)
    assert again.texts == []
    # the full build embeds only what no question embedded, and keeps the on-demand vectors as they are
    build = Counting()
    full = DenseIndex.for_store(store, TOKENS, progress=False, embedder=build)
    assert len(build.texts) == len(store) - 25
    assert sorted(build.texts) == sorted(_texts(store)[25:])
    assert np.array_equal(full.vectors[:20], vecs)
    paths = cache_paths(store, TOKENS)
    assert not paths["ondemand-keys"].exists() and not paths["partial-keys"].exists()  # folded into the index


def test_a_running_build_skips_what_a_question_embeds_meanwhile(store, monkeypatch):
    import helpers.retrieval.dense as dense

    monkeypatch.setattr(dense, "CHUNK", 16)
    texts = _texts(store)
    # the build embeds shortest first: the question (another process) embeds the longest ten meanwhile
    longest = sorted(range(len(texts)), key=lambda i: len(texts[i]))[-10:]
    ids = store.doc_ids()

    class Interleaved(Counting):
        def encode(self, batch, **kw):
            if not self.texts:
                OnDemandIndex(store, TOKENS).vectors([ids[i] for i in longest])
            return super().encode(batch, **kw)

    build = Interleaved()
    full = DenseIndex.for_store(store, TOKENS, progress=False, embedder=build)
    assert len(build.texts) == len(store) - 10
    assert not set(build.texts) & {texts[i] for i in longest}
    np.testing.assert_allclose(full.vectors, get_embedder(TOKENS).encode(texts), atol=1e-6)


def test_on_demand_reuses_a_killed_builds_checkpoint(store, monkeypatch):
    import helpers.retrieval.dense as dense

    monkeypatch.setattr(dense, "CHUNK", 16)

    class Killed(Counting):
        def encode(self, batch, **kw):
            if len(self.texts) >= 32:
                raise KeyboardInterrupt
            return super().encode(batch, **kw)

    with pytest.raises(KeyboardInterrupt):
        DenseIndex.for_store(store, TOKENS, progress=False, embedder=Killed())
    assert np.load(cache_paths(store, TOKENS)["partial-keys"]).shape == (32,)
    done = {text_key(t) for t in _texts(store)}
    later = Counting()
    od = OnDemandIndex(store, TOKENS, embedder=later)
    od.vectors(store.doc_ids())
    assert len(later.texts) == len(store) - 32 and {text_key(t) for t in later.texts} <= done


# -- search and the pipeline -------------------------------------------------------------------------

def test_hybrid_on_demand_is_bm25_fused_with_the_best_share_of_its_own_candidates():
    fx = open_corpus("fixture", progress=False)
    full = search_mod.dense_index(fx)
    assert full.full  # a small corpus: the full index is built on first use
    query = "speculative decoding latency speedup for large language models"
    got = search_mod.hybrid(fx, query, k=20, dense_scope="candidates")
    # oracle from the full index: the BM25 list, and its candidates ranked by the full index's cosine
    lex = search_mod.bm25(fx, query, k=search_mod.DEPTH, title_weight=search_mod.HYBRID_TITLE_WEIGHT)
    cos = dict(zip([h.doc_id for h in lex], full.similarity(query, [h.doc_id for h in lex])))
    keep = round(search_mod.ONDEMAND_DENSE_SHARE * search_mod.DEPTH)
    den = sorted((search_mod.Hit(d, c) for d, c in cos.items()), key=lambda h: -h.score)[:keep]
    want = search_mod.minmax_fusion([lex, den], [1 - search_mod.DENSE_ALPHA, search_mod.DENSE_ALPHA])[:20]
    assert [h.doc_id for h in got] == [h.doc_id for h in want]
    np.testing.assert_allclose([h.score for h in got], [h.score for h in want], atol=1e-6)


def test_local_source_on_demand_records_what_it_scored(monkeypatch):
    from helpers.retrieval.query import build_query_plan
    from helpers.retrieval.sources.local import LocalSource
    from helpers.retrieval.store import add_corpus

    add_corpus("fixture-od", Path(open_corpus("fixture").meta()["source"]))
    monkeypatch.setenv("WORKBENCH_AUTO_EMBED_MAX", "10")  # 72 documents count as a large corpus here
    monkeypatch.setenv("WORKBENCH_EMBED_MAX_TOKENS", str(TOKENS))  # as the arXiv corpus it is cut from
    monkeypatch.setattr(search_mod, "_INDEXES", {})
    q = "Does sparse mixture-of-experts routing improve inference throughput without hurting accuracy?"
    plan = build_query_plan(q)
    with pytest.warns(UserWarning, match="dense scores over the BM25 candidates only"):
        res = LocalSource("fixture-od").search(q, plan.queries, limit=10)
    d = res.dense
    assert d["scope"] == "BM25 candidates" and d["corpus_documents"] == 72 and d["max_tokens"] == TOKENS
    lexical = set()
    for query in res.queries[:-1]:  # every lexical query's BM25 candidates were scored, and only those
        lexical |= {h.doc_id for h in search_mod.bm25(open_corpus("fixture-od"), query, k=search_mod.DEPTH,
                                                       title_weight=search_mod.HYBRID_TITLE_WEIGHT)}
    assert d["scored"] == len(lexical) and 0 < d["embedded_now"] <= d["scored"] <= 72
    assert json.loads(json.dumps(res.to_dict()))["dense"] == d
    titles = [p.title.lower() for p in res.records[:5]]
    assert sum("expert" in t or "moe" in t for t in titles) >= 4, titles
    again = LocalSource("fixture-od").search(q, plan.queries, limit=10)
    assert again.dense["embedded_now"] == 0 and [p.id for p in again.records] == [p.id for p in res.records]


def test_screening_reuses_the_search_vectors(monkeypatch):
    from helpers.retrieval import screening
    from helpers.retrieval.store import add_corpus

    monkeypatch.setenv("WORKBENCH_EMBED_MAX_TOKENS", str(TOKENS))  # as the arXiv corpus it is cut from
    monkeypatch.setattr(search_mod, "_INDEXES", {})
    fx = add_corpus("fixture-sc", Path(open_corpus("fixture").meta()["source"]))
    index = search_mod.dense_index(fx)
    assert index.max_length == TOKENS == screening.SEMANTIC_MAX_TOKENS
    papers = fx.get(fx.doc_ids()[:12])
    for p in papers:
        p.sources = ["local:fixture-sc"]
    question = "speculative decoding"
    qv = get_embedder(TOKENS).encode([question])[0]
    oracle = {p.id: float(get_embedder(TOKENS).encode([embed_text(p.title, p.abstract)])[0] @ qv) for p in papers}
    real = Embedder.encode
    seen: list[int] = []
    monkeypatch.setattr(Embedder, "encode", lambda self, texts, **kw: seen.append(len(texts)) or real(self, texts, **kw))
    got = screening.semantic_similarity(question, papers)
    assert seen == [1]  # the question alone: every paper's vector came from the index
    assert got == pytest.approx(oracle, abs=1e-5)
    # a paper whose text the index does not hold (say, merged with an online record) is embedded as it reads
    papers[0].abstract = "Another source's version of this abstract. " + papers[0].abstract
    seen.clear()
    changed = screening.semantic_similarity(question, papers)
    assert seen == [1, 1] and changed[papers[0].id] != pytest.approx(got[papers[0].id], abs=1e-4)


def test_the_report_says_where_dense_scores_came_from(tmp_path, monkeypatch):
    from helpers.params import parse_params
    from helpers.retrieval import stage as retrieval
    from helpers.retrieval.store import add_corpus
    from helpers.synthesis import report
    from helpers.synthesis.scoring import scoring_stage
    from helpers.verification.stage import claims_stage

    add_corpus("fixture-od", Path(open_corpus("fixture").meta()["source"]))
    monkeypatch.setenv("WORKBENCH_AUTO_EMBED_MAX", "10")
    monkeypatch.setenv("WORKBENCH_EMBED_MAX_TOKENS", str(TOKENS))
    monkeypatch.setattr(search_mod, "_INDEXES", {})
    params = parse_params({"question": "Does speculative decoding speed up LLM inference without quality loss?",
                           "slug": "od", "sources": ["local:fixture-od"], "min_papers": 2, "max_papers": 4,
                           "claims_per_paper": 1,
                           "criteria": {"include_any": [["speculative decoding", "draft model"],
                                                        ["speedup", "faster", "latency"]]}})
    out = tmp_path / "od"
    with pytest.warns(UserWarning):
        retrieval.save(retrieval.run(params), out)
    search = json.loads((out / "search.json").read_text())
    dense = search["sources"][0]["dense"]
    assert dense["scope"] == "BM25 candidates" and dense["corpus_documents"] == 72 and dense["scored"] > 0
    claims_stage(params, out)
    scoring_stage(params, out)
    report.report_stage(params, out)
    md = (out / "report.md").read_text()
    methods = md.split("## Methods", 1)[1].split("## Results", 1)[0]
    assert "dense scores over the BM25 candidates only" in methods
    assert f"({dense['scored']:,} of 72 documents" in methods and "full embedding index was not built" in methods
    limitations = md.split("## Limitations", 1)[1]
    assert "covered only the BM25 candidates" in limitations
    html = (out / "report.html").read_text()
    assert "dense scores over the BM25 candidates only" in html
    assert json.loads((out / "report.json").read_text())["dense_scope"] == {"local:fixture-od": "BM25 candidates"}
    assert report.consistency_problems(out) == []
    # a report that claimed the full index over on-demand scores would be caught
    search["sources"][0]["dense"]["scope"] = "full index"
    (out / "search.json").write_text(json.dumps(search))
    assert any("dense scope" in p for p in report.consistency_problems(out))


def test_retrieval_statement_for_a_full_index():
    from helpers.synthesis.report import retrieval_statements

    search = {"sources": [{"source": "local:arxiv-cs", "dense": {"scope": "full index", "corpus_documents": 74728,
                                                                  "max_tokens": 64}},
                          {"source": "openalex"}]}
    assert retrieval_statements(search) == ["local:arxiv-cs: hybrid BM25 + dense (MiniLM) retrieval, dense scores "
                                            "over the full embedding index (74,728 documents)."]


def test_a_new_question_switches_to_the_full_index_once_it_is_complete(monkeypatch):
    from helpers.retrieval.query import build_query_plan
    from helpers.retrieval.sources.local import LocalSource
    from helpers.retrieval.store import add_corpus

    store = add_corpus("fixture-sw", Path(open_corpus("fixture").meta()["source"]))
    monkeypatch.setenv("WORKBENCH_AUTO_EMBED_MAX", "10")
    monkeypatch.setenv("WORKBENCH_EMBED_MAX_TOKENS", str(TOKENS))
    monkeypatch.setattr(search_mod, "_INDEXES", {})
    q = "Does speculative decoding speed up inference?"
    with pytest.warns(UserWarning):
        first = LocalSource("fixture-sw").search(q, build_query_plan(q).queries, limit=10)
    assert first.dense["scope"] == "BM25 candidates"
    assert not search_mod.dense_index(store).full  # no new question: the same scorer
    DenseIndex.for_store(store, TOKENS, progress=False)  # e.g. the background build finished
    second = LocalSource("fixture-sw").search(q, build_query_plan(q).queries, limit=10)
    assert second.dense["scope"] == "full index" and search_mod.dense_index(store).full
