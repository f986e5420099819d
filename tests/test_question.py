"""Question analysis: kinds, sub-questions of compound questions, facets; and the params file it writes."""

from __future__ import annotations

import yaml

from helpers.params import parse_params, suggested_yaml
from helpers.question import (
    analyse,
    base_form,
    facets,
    merge_facets,
    question_kind,
    sub_questions,
    to_hypothesis,
)


def test_kinds():
    assert question_kind("Does speculative decoding speed up inference?") == "yes-no"
    assert question_kind("Are LLM judges biased by answer position?") == "yes-no"
    assert question_kind("How much memory does KV cache compression save?") == "quantitative"
    assert question_kind("What is the trade-off between throughput and correctness?") == "quantitative"
    assert question_kind("Which is faster for decoding, beam search or sampling?") == "comparison"
    assert question_kind("How does LoRA compare with full fine-tuning on code tasks?") == "comparison"
    assert question_kind("Which methods detect machine-generated text?") == "open"


def test_joined_questions_are_split_and_the_pronoun_takes_the_subject():
    subs = sub_questions("Are LLM-as-a-judge evaluations biased by answer position or length, and how well do "
                         "they agree with human judgements?")
    assert [s.text for s in subs] == ["Are LLM-as-a-judge evaluations biased by answer position?",
                                      "Are LLM-as-a-judge evaluations biased by answer length?",
                                      "How well do LLM-as-a-judge evaluations agree with human judgements?"]
    assert [s.kind for s in subs] == ["yes-no", "yes-no", "quantitative"]
    assert subs[0].hypothesis == "LLM-as-a-judge evaluations biased by answer position."


def test_without_clause_becomes_a_side_effect_question():
    subs = sub_questions("Does speculative decoding speed up large language model inference without changing output quality?")
    assert [(s.text, s.role) for s in subs] == [
        ("Does speculative decoding speed up large language model inference?", "main"),
        ("Does speculative decoding change output quality?", "side effect")]


def test_condition_becomes_its_own_sub_question():
    subs = sub_questions("What is the trade-off between inference throughput and functional correctness when applying "
                         "multi-objective alignment frameworks to large language models on coding tasks?")
    assert subs[0].text == ("What is the trade-off between inference throughput and functional correctness for large "
                            "language models on coding tasks?")
    assert subs[1].role == "condition" and "multi-objective alignment frameworks" in subs[1].text


def test_quantifier_alternatives_are_not_split():
    q = "Does quantizing large language models to 4 bits or fewer degrade performance on math benchmarks?"
    assert [s.text for s in sub_questions(q)] == [q]


def test_base_forms():
    assert [base_form(w) for w in "degrading hurting cutting changing losing reducing lowering sampling using".split()] \
        == "degrade hurt cut change lose reduce lower sample use".split()


def test_facets_use_corpus_specificity_and_drop_background():
    share = {"quantizing": 0.01, "large": 0.5, "language": 0.45, "models": 0.8, "mathematical": 0.02,
             "reasoning": 0.2, "benchmarks": 0.3, "performance": 0.3}.get
    found, background = facets("Does quantizing large language models degrade performance on mathematical reasoning "
                               "benchmarks?", df=lambda w: share(w, 0.05))
    heads = [f[0] for f in found]
    assert heads == ["quantizing", "mathematical reasoning benchmarks"]
    assert "large language models" in background and "performance" in background
    assert "quantization" in found[0] and "gsm8k" in found[1]  # synonyms of the concept
    assert found[1][1] == "mathematical"  # the most specific word of the phrase comes first


def test_a_head_qualified_by_a_known_concept_is_not_a_keyword_alone():
    # "routing" is rarer than "expert" in the corpus, but "sparse expert routing" is routing among experts:
    # "routing" alone would take in routing between models or in networks
    share = {"sparse": 0.02, "expert": 0.03, "routing": 0.01, "throughput": 0.02}.get
    found, _ = facets("Does sparse expert routing improve throughput?", df=lambda w: share(w, 0.05))
    assert found[0][0] == "sparse expert routing"
    assert "routing" not in found[0] and "mixture-of-experts" in found[0] and "moe" in found[0]
    # a head that names a concept itself keeps its own reading ("position bias" is about bias)
    found, _ = facets("Is there position bias?", df=lambda w: {"position": 0.01, "bias": 0.02}.get(w, 0.05))
    assert found[0][:2] == ["position bias", "bias"]
    # without such a modifier the most specific word still stands alone
    found, _ = facets("Does adaptive routing help?", df=lambda w: {"routing": 0.01}.get(w, 0.05))
    assert found[0][:2] == ["adaptive routing", "routing"]


def test_a_verb_of_trading_off_ends_a_concept():
    # "trade" was read as part of the subject, so "code language models trade inference throughput" was one
    # facet and throughput was never required (the bench question's top 10 had no throughput paper)
    found, _ = facets("Do code language models trade inference throughput against functional correctness?")
    assert [g[0] for g in found] == ["code language models", "inference throughput", "functional correctness"]
    assert "latency" in found[1] and "pass@1" in found[2]


def test_merge_facets_joins_a_phrase_already_named():
    merged = merge_facets([["inference throughput", "throughput", "tokens per second"], ["tokens per second", "second"]])
    assert merged == [["inference throughput", "throughput", "tokens per second", "second"]]


def test_given_sub_questions_keep_their_facets_and_derive_the_rest():
    params = parse_params({"question": "Do LLM judges prefer longer answers, and do they agree with humans?",
                           "sub_questions": ["Do LLM judges prefer longer answers?",
                                             {"text": "Do LLM judges agree with humans?", "facets": [["agreement"]]}]})
    a = analyse(params.question, params.sub_questions)
    assert a.source == "params" and [s.kind for s in a.sub_questions] == ["yes-no", "yes-no"]
    assert a.sub_questions[1].facets == [["agreement"]] and a.sub_questions[0].facets
    assert to_hypothesis("Do LLM judges agree with humans?") == "LLM judges agree with humans."


def test_suggested_params_file_loads_and_carries_the_analysis():
    params = parse_params({"question": "Does speculative decoding speed up inference without changing output quality?"})
    a = analyse(params.question)
    text = suggested_yaml(params, a)
    assert text.count("\n# ") >= 8  # a comment on each field
    back = parse_params(yaml.safe_load(text))
    assert [s.text for s in back.sub_questions] == [s.text for s in a.sub_questions]
    assert back.sub_questions[1].role == "side effect"
    assert back.criteria.include_any == a.sub_questions[0].facets  # one main sub-question: its facets are the criteria
