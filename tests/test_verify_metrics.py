"""SciFact metric code against hand-computed examples."""

from __future__ import annotations

import pytest

from helpers.evaluation.metrics import abstract_level, expected_calibration_error, prf, sentence_level

GOLD = [
    {"id": 1, "evidence": {"10": [{"sentences": [0, 1], "label": "SUPPORT"}],
                           "20": [{"sentences": [3], "label": "CONTRADICT"}]}},
    {"id": 2, "evidence": {}},
]
PREDS = [
    {"id": 1, "evidence": {"10": {"label": "SUPPORT", "sentences": [0, 1, 5]},
                           "20": {"label": "SUPPORT", "sentences": [3]}}},
    {"id": 2, "evidence": {"30": {"label": "CONTRADICT", "sentences": [2]}}},
]


def test_prf_edge_cases() -> None:
    assert prf(0, 0, 0) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert prf(1, 2, 4)["f1"] == pytest.approx(2 * 0.5 * 0.25 / 0.75)


def test_abstract_level_hand_computed() -> None:
    m = abstract_level(PREDS, GOLD)
    # 3 predicted abstracts, 2 gold abstracts, 1 correct (doc 10; doc 20 has the wrong label)
    assert m["label_only"]["precision"] == pytest.approx(1 / 3)
    assert m["label_only"]["recall"] == pytest.approx(1 / 2)
    assert m["label_only"]["f1"] == pytest.approx(0.4)
    assert m["label_rationale"]["f1"] == pytest.approx(0.4)  # {0, 1} is within the first 3 predicted sentences


def test_abstract_level_incomplete_rationale() -> None:
    preds = [{"id": 1, "evidence": {"10": {"label": "SUPPORT", "sentences": [0]}}}]
    m = abstract_level(preds, GOLD)
    assert m["label_only"]["f1"] == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert m["label_rationale"]["f1"] == 0.0
    # only the first 3 predicted sentences count at abstract level
    late = [{"id": 1, "evidence": {"10": {"label": "SUPPORT", "sentences": [5, 6, 7, 0, 1]}}}]
    assert abstract_level(late, GOLD)["label_rationale"]["f1"] == 0.0


def test_sentence_level_hand_computed() -> None:
    m = sentence_level(PREDS, GOLD)
    # predicted sentences: 3 + 1 + 1 = 5; gold: 3. Selection: 0, 1 (doc 10) and 3 (doc 20) -> 3; with label: 2
    assert m["selection_only"]["precision"] == pytest.approx(3 / 5)
    assert m["selection_only"]["recall"] == pytest.approx(1.0)
    assert m["selection_only"]["f1"] == pytest.approx(0.75)
    assert m["selection_label"]["f1"] == pytest.approx(2 * 0.4 * (2 / 3) / (0.4 + 2 / 3))
    partial = [{"id": 1, "evidence": {"10": {"label": "SUPPORT", "sentences": [0]}}}]
    assert sentence_level(partial, GOLD)["selection_only"]["f1"] == 0.0  # half a rationale set earns nothing


def test_ece_hand_computed() -> None:
    # bin 9: confidence .9, accuracy .5 -> .5 * .4; bin 2: confidence .2, accuracy 0 -> .5 * .2
    assert expected_calibration_error([0.9, 0.9, 0.2, 0.2], [True, False, False, False]) == pytest.approx(0.3)
    assert expected_calibration_error([1.0, 1.0], [True, True]) == pytest.approx(0.0)
    assert expected_calibration_error([], []) == 0.0
