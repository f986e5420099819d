"""Corpus store: ingest of every supported format, BM25 search, rebuild only on changed input."""

from __future__ import annotations

import json

import pytest

from helpers import config
from helpers.errors import StoreError
from helpers.retrieval.store import CorpusStore, add_corpus, fts_query, open_corpus, store_path


def _lines(path, n):
    with open(path, encoding="utf-8") as fh:
        return [next(fh) for _ in range(n)]


def test_scifact_and_beir_formats(tmp_path):
    root = config.data_root()
    sf = tmp_path / "sf.jsonl"
    sf.write_text("".join(_lines(root / "scifact" / "corpus.jsonl", 40)))
    store = CorpusStore.build("sf", sf, tmp_path / "sf.sqlite", progress=False)
    first = json.loads(_lines(sf, 1)[0])
    paper = store.get([f"sf:{first['doc_id']}"])[0]
    assert paper.sentences == [s.strip() for s in first["abstract"]]  # SciFact's own sentence split is kept
    hits = store.search(first["title"], k=5)
    assert hits[0].doc_id == f"sf:{first['doc_id']}"

    beir = tmp_path / "beir.jsonl"
    beir.write_text("".join(_lines(root / "beir-scifact" / "corpus.jsonl", 30)))
    b = CorpusStore.build("b", beir, tmp_path / "b.sqlite", progress=False)
    assert len(b) == 30
    rec = json.loads(_lines(beir, 3)[2])
    assert b.search(rec["title"], k=3)[0].doc_id == f"b:{rec['_id']}"


def test_registered_fixture_corpus_is_arxiv_format():
    store = open_corpus("fixture", progress=False)
    assert len(store) == 72
    p = store.get([store.doc_ids()[0]])[0]
    assert p.id.startswith("arxiv:") and p.ids["arxiv"] == p.id.split(":", 1)[1] and p.year and p.url
    hits = store.search("speculative decoding draft model", k=10)
    titles = [x.title.lower() for x in store.get([h.doc_id for h in hits])]
    assert all("speculative" in t for t in titles[:5])
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_rebuilt_only_when_input_changes(tmp_path):
    src = tmp_path / "c.jsonl"
    src.write_text("".join(_lines(config.data_root() / "scifact" / "corpus.jsonl", 10)))
    add_corpus("tiny", src)
    db = store_path("tiny")
    stamp = db.stat().st_mtime_ns
    open_corpus("tiny", progress=False)
    assert db.stat().st_mtime_ns == stamp  # unchanged input: reused
    src.write_text("".join(_lines(config.data_root() / "scifact" / "corpus.jsonl", 12)))
    assert len(open_corpus("tiny", progress=False)) == 12  # changed input: rebuilt
    assert not [p for p in db.parent.iterdir() if p.name.endswith(".tmp")]


def test_bad_line_names_file_and_line(tmp_path):
    src = tmp_path / "broken.jsonl"
    src.write_text('{"_id": "1", "title": "a", "text": "b"}\n{not json\n')
    with pytest.raises(StoreError, match=r"broken.jsonl:2"):
        CorpusStore.build("x", src, tmp_path / "x.sqlite", progress=False)
    assert not (tmp_path / "x.sqlite").exists()
    assert list(tmp_path.iterdir()) == [src]  # nor its half-built temporary file


def test_unknown_corpus_and_query_sanitising():
    with pytest.raises(StoreError, match="unknown corpus 'nope'"):
        open_corpus("nope")
    # stop words, FTS5 operators and punctuation never reach MATCH; every kept term is quoted
    assert fts_query('What is "the" trade-off, AND/OR NOT x*?') == '"trade-off"'
    assert fts_query("the of and") == ""
    assert fts_query("Sparse experts: routing (MoE) routing") == '"sparse" OR "experts" OR "routing" OR "moe"'
