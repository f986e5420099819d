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
