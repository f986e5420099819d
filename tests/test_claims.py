"""Sentence splitting and claims: claims are whole sentences, exact, stable, and answer a sub-question."""

from __future__ import annotations

from helpers.params import parse_params
from helpers.question import analyse
from helpers.records import Paper
from helpers.retrieval.store import open_corpus
from helpers.text import paper_sentences, split_sentences
from helpers.verification import claims as claims_mod
from helpers.verification.evidence import Ranker, rank
from helpers.verification.verifier import load_verifier


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


def test_claims_are_exact_whole_sentences_that_answer_a_sub_question_with_stable_ids():
    params = parse_params({"question": "Does speculative decoding speed up LLM inference without changing output quality?",
                           "claims_per_paper": 2})
    store = open_corpus("fixture", progress=False)
    papers = [p for p in store.iter_papers() if "speculative" in p.title.lower()][:8]
    a = analyse(params.question)
    verifier = load_verifier()
    found = claims_mod.select(rank(papers, a, Ranker.load(), verifier), papers, a.sub_questions, params.claims_per_paper)
    assert found, "expected sentences that answer in speculative-decoding abstracts"
    by_id = {p.id: p for p in papers}
    for c in found:
        sents = paper_sentences(by_id[c.paper_id])
        assert sents[c.sentence_index] == c.text  # exact sentence, never cut
        assert c.text[-1] in ".!?" and len(c.text.split()) >= 6
        assert set(c.sub_question.split(";")) <= {"Q1", "Q2"} and c.sub_question
    per_paper = {}
    for c in found:
        per_paper[c.paper_id] = per_paper.get(c.paper_id, 0) + 1
    assert max(per_paper.values()) <= 2
    again = claims_mod.select(rank(papers, a, Ranker.load(), verifier), papers, a.sub_questions, 2)
    assert [c.claim_id for c in again] == [c.claim_id for c in found]


def test_the_answering_sentence_outranks_background_and_method_sentences():
    paper = Paper(id="x:1", title="Fast drafting for speculative decoding", abstract=(
        "Large language models are slow at inference time. "
        "Speculative decoding uses a small draft model to propose tokens. "
        "We propose a new drafting scheme based on tree attention. "
        "Experiments show that speculative decoding with our drafts speeds up inference by 2.4x without changing the output distribution."))
    a = analyse("Does speculative decoding speed up large language model inference?")
    ev = rank([paper], a, Ranker.load(), load_verifier())[("x:1", "Q1")]
    assert ev[0].sentence_index == 3 and ev[0].addresses
    assert not any(e.addresses for e in ev if e.sentence_index == 0)


def test_background_sentences_rank_below_findings():
    q = {"machine", "translat", "speedup"}
    bg, _ = claims_mod.score_sentence("Large language models have shown remarkable success in machine translation.", q, 0)
    fd, _ = claims_mod.score_sentence("Our method achieves a 3.1x speedup in machine translation with no BLEU loss.", q, 4)
    assert fd > bg


def test_a_paper_on_part_of_a_long_question_addresses_it_but_not_one_off_topic():
    """Four facets: a paper on memory alone answers "how much memory and speed" in part; one on two facets does not."""
    from helpers.question import SubQuestion
    from helpers.verification.evidence import _covers, facets_needed

    sq = SubQuestion("Q1", "How much memory and speed do KV cache compression methods save during long-context inference?",
                     "quantitative", facets=[["memory"], ["speed", "latency"], ["kv cache"], ["long-context"]])
    memory = Paper(id="m", title="Pruning the KV cache for long-context inference",
                   abstract="Our method cuts KV cache memory by 53% at 128K tokens of long-context input.")
    off = Paper(id="o", title="A KV cache survey", abstract="We survey KV cache designs and their memory layouts.")
    sentence = "Our method cuts KV cache memory by 53% at 128K tokens of long-context input."
    assert facets_needed(4) == 3 and facets_needed(3) == 3 and facets_needed(1) == 1
    assert _covers(sq, memory, sentence)
    assert not _covers(sq, off, "We survey KV cache designs and their memory layouts.")
    assert not _covers(sq, memory, "Large models are popular.")  # the sentence itself names no facet


def test_a_which_methods_question_is_answered_by_the_methods_papers_propose():
    from helpers.verification.evidence import states_finding

    s = "To combat this, we introduce a method for detecting machine-generated text that is agnostic of the generator."
    feats = {"finding": 0.0}
    assert states_finding(s, 2, 8, feats, methods=True)
    assert not states_finding(s, 2, 8, feats)  # a proposal is not a finding for other questions
    assert not states_finding("Large language models have made detecting machine-generated text hard.", 2, 8, feats,
                              methods=True)
    paper = Paper(id="d:1", title="Spectral fingerprints of machine-generated text", abstract=(
        "Machine-generated text is increasingly hard to tell apart from human writing. "
        "We propose SpecDetect, a detector that reads the spectral fingerprint of token probabilities to detect "
        "machine-generated text. "
        "The code is available online."))
    from helpers.question import QuestionAnalysis, SubQuestion

    facets = [["detect machine-generated text", "machine-generated", "machine generated"]]  # as the arXiv run derives
    sq = SubQuestion("Q1", "Which methods are used to detect machine-generated text?", "open", facets=facets)
    ev = rank([paper], QuestionAnalysis(sq.text, "open", [sq], facets), Ranker.load(), load_verifier())[("d:1", "Q1")]
    assert [e.sentence_index for e in ev if e.addresses] == [1]
