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
