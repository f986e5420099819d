"""The graded answer: a meter and a verdict for yes/no sub-questions, ranges for the others, and an honest
"not answered" naming the sub-question and the reason."""

from __future__ import annotations

from helpers.question import QuestionAnalysis, SubQuestion
from helpers.records import Paper
from helpers.synthesis.answer import answer


def _setup(stances_q1: dict[str, str], q2_addressed: bool = False):
    papers = [Paper(id=f"p{i}", title=f"Paper {i}", abstract="x", type="preprint", venue="arXiv") for i in range(1, 7)]
    subs = [SubQuestion("Q1", "Does X speed up Y?", "yes-no", facets=[["x"]]),
            SubQuestion("Q2", "What is the effect of zeta on Y?", "quantitative", "condition", facets=[["zeta"]])]
    analysis = QuestionAnalysis("Does X speed up Y when applying zeta?", "yes-no", subs, [["x"], ["zeta"]])
    ev = lambda pid, q, addr, s: {"paper_id": pid, "sub_question": q, "sentence_index": 2, "text": f"{pid} says {q}.",  # noqa: E731
                                  "score": s, "addresses": addr, "features": {}}
    evidence = {"Q1": {p.id: [ev(p.id, "Q1", stances_q1.get(p.id, "not addressed") != "not addressed", 0.9)] for p in papers},
                "Q2": {p.id: [ev(p.id, "Q2", q2_addressed and p.id == "p1", 0.3 if p.id != "p2" else 0.4)] for p in papers}}
    stances = {"Q1": {p.id: {"label": stances_q1.get(p.id, "not addressed"), "confidence": 0.8} for p in papers}}
    relevance = {p.id: 0.7 for p in papers}
    findings = {"Q2": [{"metric": "speed-up", "unit": "×", "direction": "increase", "papers": 1, "papers_ids": ["p1"],
                        "min": 2.0, "median": 2.0, "max": 2.0}]} if q2_addressed else {}
    return analysis, papers, relevance, evidence, stances, findings


def test_yes_verdict_meter_quotes_and_an_unanswered_condition():
    a, papers, rel, ev, st, fi = _setup({"p1": "yes", "p2": "yes", "p3": "yes", "p4": "no"})
    ans = answer(a, papers, rel, ev, st, fi, [], {p.id: i for i, p in enumerate(papers, 1)}, min_papers=5, threshold=0.6)
    q1, q2 = ans.sub_answers
    assert q1.verdict == "Yes" and q1.meter == {"yes": 3, "no": 1, "mixed": 0, "unclear": 0, "not addressed": 2}
    assert q1.papers_by_stance["yes"] == ["p1", "p2", "p3"]
    assert [q["stance"] for q in q1.quotes] == ["yes", "yes", "yes"]  # quotes from the majority first
    assert q2.status == "not answered" and "no included paper studies it" in q2.reason
    assert q2.closest[0] == "p2"  # the paper whose sentences come closest
    assert ans.status == "partly answered" and ans.unanswered == ["Q2"]
    assert "Q2 (What is the effect of zeta on Y?) cannot be answered" in ans.text
    # rated down for preprints, for the one paper that disagrees, and for 4 stances (< 5 papers)
    assert q1.certainty == "very low"
    assert [r.split(":")[0] for r in q1.certainty_reasons] == ["risk of bias", "inconsistency", "imprecision"]


def test_too_few_stances_give_no_verdict_and_ranges_answer_an_open_question():
    a, papers, rel, ev, st, fi = _setup({"p1": "yes", "p2": "no"}, q2_addressed=True)
    ans = answer(a, papers, rel, ev, st, fi, [], {}, min_papers=5, threshold=0.6, min_stance=3)
    q1, q2 = ans.sub_answers
    assert q1.status == "no verdict" and q1.verdict == "" and "only 2 included paper(s) take a stance" in q1.statement
    assert q2.status == "answered" and "speed-up: 2×" in q2.statement and q2.addressing == ["p1"]
    assert ans.status == "partly answered"


def test_mixed_when_papers_split_and_insufficient_with_too_few_papers():
    a, papers, rel, ev, st, fi = _setup({"p1": "yes", "p2": "yes", "p3": "no", "p4": "no"})
    assert answer(a, papers, rel, ev, st, fi, [], {}, 5, 0.6).sub_answers[0].verdict == "Mixed"
    ans = answer(a, papers[:2], rel, ev, st, fi, [], {}, 5, 0.6)
    assert ans.status == "insufficient" and ans.unanswered == ["Q1", "Q2"]


def test_corroboration_raises_certainty():
    a, papers, rel, ev, st, fi = _setup({"p1": "yes", "p2": "yes", "p3": "yes", "p4": "no"})
    claims = [{"claim_id": f"c{i}", "sub_question": "Q1", "label": "SUPPORTS", "confidence": 0.9} for i in range(2)]
    base = answer(a, papers, rel, ev, st, fi, [], {}, 5, 0.6).sub_answers[0]
    up = answer(a, papers, rel, ev, st, fi, claims, {}, 5, 0.6).sub_answers[0]
    levels = ["high", "moderate", "low", "very low"]
    assert levels.index(up.certainty) == levels.index(base.certainty) - 1


def test_unclear_stances_do_not_count_towards_a_verdict():
    a, papers, rel, ev, st, fi = _setup({"p1": "yes", "p2": "unclear", "p3": "unclear", "p4": "unclear"})
    q1 = answer(a, papers, rel, ev, st, fi, [], {}, 5, 0.6, min_stance=3).sub_answers[0]
    assert q1.status == "no verdict" and q1.meter["unclear"] == 3 and "3 address it without a clear stance" in q1.statement
    assert [q["stance"] for q in q1.quotes][0] == "yes"  # a confident stance is quoted first


def test_tone_of_key_sentences():
    from helpers.synthesis.answer import tone

    assert tone("achieving up to 37% higher throughput at comparable accuracy.") == "no loss"
    assert tone("without sacrificing accuracy on HumanEval") == "no loss"
    assert tone("lower bit-widths introduce significant accuracy degradation") == "loss"
    assert tone("We propose a new decoding method.") == ""


def test_an_unanswered_condition_names_its_own_concept():
    a, papers, rel, ev, st, fi = _setup({"p1": "yes", "p2": "yes", "p3": "yes"})
    papers[0].abstract = "We also mention zeta in passing."
    q2 = answer(a, papers, rel, ev, st, fi, [], {}, 5, 0.6).sub_answers[1]
    assert q2.status == "not answered" and "1 of the 6 mention 'zeta' in passing, and none states a finding about it" in q2.reason
    papers[0].abstract = "x"
    q2 = answer(a, papers, rel, ev, st, fi, [], {}, 5, 0.6).sub_answers[1]
    assert "none of the 6 mentions 'zeta'" in q2.reason


def test_open_answer_quotes_the_sentences_naming_most_facets_first():
    """A sentence naming throughput and correctness outranks a higher-scored one naming only 'code'."""
    papers = [Paper(id=f"p{i}", title=f"Paper {i}", abstract="x") for i in (1, 2)]
    sq = SubQuestion("Q1", "What is the trade-off between throughput and correctness on coding tasks?", "quantitative",
                     facets=[["throughput"], ["correctness", "accuracy"], ["code", "coding"]])
    analysis = QuestionAnalysis(sq.text, "quantitative", [sq], sq.facets)
    texts = {"p1": "Code tokenizers produce many unused tokens in practice.",
             "p2": "Our decoder raises throughput 3x on code generation while accuracy stays comparable."}
    evidence = {"Q1": {pid: [{"paper_id": pid, "sub_question": "Q1", "sentence_index": 1, "text": t,
                              "score": 0.9 if pid == "p1" else 0.5, "addresses": True, "features": {}}]
                       for pid, t in texts.items()}}
    evidence["Q1"]["p2"].insert(0, {"paper_id": "p2", "sub_question": "Q1", "sentence_index": 0, "score": 0.95,
                                    "text": "Coding assistants are popular.", "addresses": True, "features": {}})
    ans = answer(analysis, papers, {"p1": 0.7, "p2": 0.7}, evidence, {}, {}, [], {}, min_papers=1, threshold=0.6)
    quotes = ans.sub_answers[0].quotes
    assert [q["paper_id"] for q in quotes] == ["p2", "p1"]
    assert quotes[0]["sentence_index"] == 1  # p2's sentence on throughput and accuracy, not its best-ranked one


def test_a_yes_no_answer_without_a_verdict_still_says_what_the_key_sentences_state():
    a, papers, rel, ev, st, fi = _setup({"p1": "unclear", "p2": "unclear"})
    ev["Q1"]["p1"][0]["text"] = "Our 4-bit model matches the full-precision accuracy on GSM8K."
    ev["Q1"]["p2"][0]["text"] = "Accuracy drops by 9 points at 3 bits."
    q1 = answer(a, papers, rel, ev, st, fi, [], {p.id: i for i, p in enumerate(papers, 1)}, 5, 0.6).sub_answers[0]
    assert q1.status == "no verdict" and q1.qualitative == {"no loss": ["p1"], "loss": ["p2"]}
    assert "Of the addressing papers' key sentences, 1 states no loss" in q1.statement and "a loss ([2])" in q1.statement
