"""Rule-based claim negation (used to augment the direction model's training data and at inference)."""

from __future__ import annotations

import pytest

from training.verifier.augment import insert_negation, negate, remove_negation, swap_opposite


@pytest.mark.parametrize(("claim", "expected"), [
    ("Physical activity does not improve cognitive function.", "Physical activity does improve cognitive function."),
    ("Exercise increases cancer mortality.", "Exercise decreases cancer mortality."),
    ("Birth-weight is negatively associated with breast cancer.", "Birth-weight is positively associated with breast cancer."),
    ("ALDH1 expression is associated with poor prognosis.", "ALDH1 expression is not associated with poor prognosis."),
    ("Higher doses lower the risk.", "Lower doses lower the risk."),
])
def test_negate(claim: str, expected: str) -> None:
    assert negate(claim) == expected


def test_rules_and_no_rule() -> None:
    assert remove_negation("Aspirin is not effective.") == "Aspirin is effective."
    assert remove_negation("Aspirin is effective.") is None
    assert swap_opposite("Statins reduce LDL.") is None  # "reduce" has no entry: no guess
    assert insert_negation("Statins can reduce LDL.") == "Statins can not reduce LDL."
    assert insert_negation("Statins reduce LDL.") is None
    assert negate("Statins reduce LDL.") is None
    assert negate("Aspirin is effective.") == "Aspirin is ineffective."
    assert negate(negate("Aspirin is effective.")) == "Aspirin is effective."


def test_conclusion_claim_strips_labels_and_lead_ins() -> None:
    from training.verifier.augment import conclusion_claim

    assert conclusion_claim("CONCLUSIONS These results suggest that statins reduce mortality in older adults.") == \
        "Statins reduce mortality in older adults."
    assert conclusion_claim("The results of this study show that SSZ had greater efficacy than placebo.") == \
        "SSZ had greater efficacy than placebo."
    assert conclusion_claim("CONCLUSION Too short.") is None


def test_corpus_pairs_pair_conclusion_with_a_result_and_its_negation() -> None:
    from training.verifier.augment import corpus_pairs

    abstract = ["BACKGROUND Statins are widely used in older adults and mortality is high.",
                "METHODS We followed 3,000 older adults taking statins for mortality.",
                "Statin use was associated with increased survival in older adults.",
                "Side effects were rare.",
                "CONCLUSIONS Our findings indicate that statins are associated with increased survival in older adults."]
    pairs = corpus_pairs([abstract, abstract[:2]])  # the second is too short to use
    assert pairs == [
        {"claim": "Statins are associated with increased survival in older adults.", "sentence": abstract[2],
         "label": 0, "src": "corpus"},
        {"claim": "Statins are associated with decreased survival in older adults.", "sentence": abstract[2],
         "label": 1, "src": "corpus-neg"},
    ]


def test_corpus_pairs_findings_only_skips_a_closing_sentence_that_is_no_finding() -> None:
    from training.verifier.augment import corpus_pairs

    abstract = ["Large language models are used to write code.",
                "We show that retrieval augmentation improves pass rates on unseen repositories.",
                "Retrieval augmentation raised pass rates on unseen repositories by 9 points.",
                "Code for retrieval augmentation on unseen repositories is available online."]
    assert [p["claim"] for p in corpus_pairs([abstract])] == [  # the default: the closing sentence, whatever it is
        "Code for retrieval augmentation on unseen repositories is available online.",
        "Code for retrieval augmentation on unseen repositories is not available online."]
    pairs = corpus_pairs([abstract], findings_only=True, src="arxiv")
    assert pairs == [
        {"claim": "Retrieval augmentation improves pass rates on unseen repositories.", "sentence": abstract[2],
         "label": 0, "src": "arxiv"},
        {"claim": "Retrieval augmentation worsens pass rates on unseen repositories.", "sentence": abstract[2],
         "label": 1, "src": "arxiv-neg"},
    ]


def test_negate_sentence_edits_only_an_unambiguous_place() -> None:
    from training.verifier.augment import negate_sentence

    assert negate_sentence("Vitamin D supplementation was not associated with fewer fractures.") == \
        "Vitamin D supplementation was associated with fewer fractures."
    assert negate_sentence("PDS reduces proliferation of HR-defective cells.") is None  # no rule applies
    # two words with an opposite: which one carries the finding is unclear, so no twin
    assert negate_sentence("Higher doses gave lower blood pressure in treated rats.") is None
    assert negate_sentence(" ".join(["word"] * 36) + " is high.") is None  # too long to trust one edit


def test_evidence_twins_flip_the_label_once_and_restore_it_twice() -> None:
    from training.verifier.augment import evidence_twins

    rows = [{"claim": "Statins increase survival.", "sentence": "Statin use was associated with increased survival.",
             "label": 0, "src": "scifact"},
            {"claim": "Statins decrease survival.", "sentence": "Statin use was associated with increased survival.",
             "label": 1, "src": "scifact"}]  # refuted pairs are left alone
    assert evidence_twins(rows) == [
        {"claim": "Statins increase survival.", "sentence": "Statin use was associated with decreased survival.",
         "label": 1, "src": "scifact-eneg"},
        {"claim": "Statins decrease survival.", "sentence": "Statin use was associated with decreased survival.",
         "label": 0, "src": "scifact-both"},
    ]
