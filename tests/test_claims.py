"""Sentence splitting and claim extraction: claims are whole sentences, exact, stable."""

from __future__ import annotations

from helpers.params import parse_params
from helpers.retrieval.store import open_corpus
from helpers.text import paper_sentences, split_sentences
from helpers.verification import claims as claims_mod


def test_split_keeps_every_character_and_abbreviations():
    text = ("Large models (e.g. GPT-4) are slow. We show a 2.5x speedup vs. the baseline, i.e. faster decoding. "
            "Results hold on HumanEval et al. benchmarks.")
    sents = split_sentences(text)
    assert sents == ["Large models (e.g. GPT-4) are slow.",
                     "We show a 2.5x speedup vs. the baseline, i.e. faster decoding.",
                     "Results hold on HumanEval et al. benchmarks."]
    assert " ".join(sents) == text


def test_split_on_real_abstracts_loses_nothing():
    store = open_corpus("fixture", progress=False)
    for p in list(store.iter_papers())[:40]:
        sents = split_sentences(p.abstract)
        assert "".join(sents).replace(" ", "") == p.abstract.replace(" ", "")


def test_claims_are_exact_whole_sentences_with_stable_ids():
    params = parse_params({"question": "Does speculative decoding speed up LLM inference without quality loss?",
                           "criteria": {"include_any": [["speculative decoding"], ["speedup", "faster"]]},
                           "claims_per_paper": 2})
    store = open_corpus("fixture", progress=False)
    papers = [p for p in store.iter_papers() if "speculative" in p.title.lower()][:10]
    found = claims_mod.extract(papers, params)
    assert found, "expected finding sentences in speculative-decoding abstracts"
    by_id = {p.id: p for p in papers}
    for c in found:
        sents = paper_sentences(by_id[c.paper_id])
        assert sents[c.sentence_index] == c.text  # exact sentence, never cut
        assert c.text[-1] in ".!?" and len(c.text.split()) >= 6
    per_paper = {}
    for c in found:
        per_paper[c.paper_id] = per_paper.get(c.paper_id, 0) + 1
    assert max(per_paper.values()) <= 2
    assert [c.claim_id for c in claims_mod.extract(papers, params)] == [c.claim_id for c in found]


def test_background_sentences_rank_below_findings():
    q = {"machine", "translat", "speedup"}
    bg, _ = claims_mod.score_sentence("Large language models have shown remarkable success in machine translation.", q, 0)
    fd, _ = claims_mod.score_sentence("Our method achieves a 3.1x speedup in machine translation with no BLEU loss.", q, 4)
    assert fd > bg
