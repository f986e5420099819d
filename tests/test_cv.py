"""The five-fold training's bookkeeping (training/verifier/cv.py): fold assignment, the abstracts each fold keeps
out of its corpus pairs, the rebuilding of calibration items from out-of-fold logits, an ensemble's merged
scores; and the abstract-level model's inputs (training/verifier/abstract.py)."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from training.verifier.abstract import abstract_view, training_rows
from training.verifier.cv import (
    ALL,
    FOLDS,
    assign_folds,
    held_docs,
    kept_claims,
    member_files,
    merge_scores,
    scored_items,
)


def _claims(n: int) -> list[dict]:
    return [{"id": i, "claim": f"claim {i}", "cited_doc_ids": [1000 + i], "evidence": {str(2000 + i): []}}
            for i in range(n)]


def test_fold_zero_is_the_validation_split_and_the_rest_is_balanced_and_seeded() -> None:
    claims = _claims(53)
    val = {3, 7, 11, 40}
    fold = assign_folds(claims, val)
    assert {cid for cid, f in fold.items() if f == 0} == val
    sizes = [sum(f == k for f in fold.values()) for k in range(1, FOLDS)]
    assert sum(sizes) == 49 and max(sizes) - min(sizes) <= 1
    assert assign_folds(list(reversed(claims)), val) == fold  # order of the file does not matter
    assert assign_folds(claims, val, seed=21) != fold


def test_each_fold_holds_out_the_abstracts_its_claims_cite() -> None:
    claims = _claims(10)
    fold = {c["id"]: c["id"] % FOLDS for c in claims}
    assert held_docs(claims, fold, 2) == {1002, 1007, 2002, 2007}
    assert held_docs(claims, fold, ALL) == set()


def _write(path, obj) -> None:
    path.write_bytes(gzip.compress(json.dumps(obj).encode()))


def test_scored_items_rebuild_pair_scores_from_out_of_fold_logits(tmp_path) -> None:
    claims = [{"id": 1, "claim": "X does not reduce Y.", "fold": 0, "cited_doc_ids": [5],
               "evidence": {"5": [{"label": "CONTRADICT", "sentences": [1]}]}},
              {"id": 2, "claim": "Z raises W.", "fold": 1, "cited_doc_ids": [], "evidence": {}}]
    items = [{"cid": 1, "claim": claims[0]["claim"], "doc": "5", "gold": 1, "rank": 0, "cited": True,
              "sentences": ["a", "b", "c"]},
             {"cid": 2, "claim": claims[1]["claim"], "doc": "9", "gold": 2, "rank": 0, "cited": False,
              "sentences": ["d", "e"]},
             {"cid": 2, "claim": claims[1]["claim"], "doc": "8", "gold": 2, "rank": 1, "cited": False,
              "sentences": ["f"]}]  # not scored: left out
    _write(tmp_path / "claims.json.gz", claims)
    _write(tmp_path / "items.json.gz", items)
    # sentence 1 is the most relevant of doc 5 (NEI logit lowest), then sentence 2; direction logits exist for
    # sentences 1 and 0 only, so sentence 2's direction falls back to the 3-way model's REFUTES share
    l5 = np.array([[0.0, 0.0, 1.0], [0.0, 3.0, -2.0], [1.0, 0.0, 0.0]], dtype=np.float32)
    scores = {(1, "5"): {"logits3": l5, "dir_top": [1, 0], "dir_logits": np.array([[0.0, 2.0], [1.0, 0.0]])},
              (2, "9"): {"logits3": np.array([[0.0, 0.0, 3.0], [0.0, 0.0, 2.0]]), "dir_top": [1, 0],
                         "dir_logits": np.array([[1.0, 0.0], [0.0, 0.0]])}}
    out, kept, temperature = scored_items(tmp_path, scores, temperature=1.0)
    assert [it["doc"] for it in out] == ["5", "9"] and [c["id"] for c in kept] == [1, 2]
    sc = out[0]["scores"]
    assert sc.top == [1, 2] and sc.negated_claim
    p = np.exp(l5[2]) / np.exp(l5[2]).sum()
    assert sc.p_refutes == pytest.approx([1 / (1 + np.exp(-2.0)), p[1] / (p[0] + p[1])])
    assert sc.relevance[1] == pytest.approx(1 - np.exp(-2.0) / np.exp(l5[1]).sum())
    assert out[1]["scores"].top == [1, 0] and not out[1]["scores"].negated_claim
    assert out[0]["claim"] is kept[0] and out[0]["claim"]["fold"] == 0
    # fitted temperature: a positive number from the gold evidence abstract's sentences
    assert scored_items(tmp_path, scores)[2] > 0


def test_an_ensembles_out_of_fold_scores_average_what_each_run_read() -> None:
    a = {(1, "5"): {"logits3": np.array([[0.0, 0.0, 2.0], [2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]), "dir_top": [1, 2],
                    "dir_logits": np.array([[1.0, 0.0], [0.0, 3.0]])}}
    b = {(1, "5"): {"logits3": np.array([[0.0, 0.0, 4.0], [0.0, 0.0, -2.0], [0.0, 0.0, 0.0]]), "dir_top": [1, 0],
                    "dir_logits": np.array([[3.0, 0.0], [5.0, 5.0]])}}
    merged, partial = merge_scores([a, b])
    m = merged[(1, "5")]
    np.testing.assert_allclose(m["logits3"], [[0.0, 0.0, 3.0], [1.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    # relevance under the mean logits: sentence 1, then 2, then 0; 1 was read by both runs, 2 only by a, 0 only by b
    assert m["dir_top"] == [1, 2, 0]
    np.testing.assert_allclose(m["dir_logits"], [[2.0, 0.0], [0.0, 3.0], [5.0, 5.0]])
    assert partial == 2


def test_ensemble_members_are_named_by_seed() -> None:
    assert member_files([0, 1, 3]) == (["model.onnx", "model-s1.onnx", "model-s3.onnx"],
                                       ["direction.onnx", "direction-s1.onnx", "direction-s3.onnx"])


def test_abstract_view_keeps_the_most_relevant_sentences_in_order() -> None:
    sents = ["one two three", "four five", "six seven eight nine"]
    assert abstract_view("A title", sents, [0.1, 0.9, 0.5]) == "A title. one two three four five six seven eight nine"
    # 8 words: title (2) + sentence 1 (2) + sentence 2 (4); sentence 0 no longer fits
    assert abstract_view("A title", sents, [0.1, 0.9, 0.5], budget=8) == "A title. ... four five six seven eight nine"
    assert abstract_view("Why?", sents, [0.9, 0.1, 0.5], budget=3) == "Why? one two three ..."
    assert abstract_view("T", sents, [0.0, 0.0, 0.9], budget=1) == "T. ... six seven eight nine"  # always one


def test_abstract_training_rows_upsample_evidence_and_add_rationale_free_views() -> None:
    items = [{"cid": 1, "doc": "5", "claim": "c1", "gold": 1, "view": "v5", "dropped": "v5-"},
             {"cid": 1, "doc": "6", "claim": "c1", "gold": 2, "view": "v6", "dropped": None},
             {"cid": 2, "doc": "7", "claim": "c2", "gold": 0, "view": "v7", "dropped": None},
             {"cid": 3, "doc": "8", "claim": "c3", "gold": 0, "view": "v8", "dropped": "v8-"}]
    rows = training_rows(items, {1, 2})
    assert sorted((r["sentence"], r["label"]) for r in rows) == [("v5", 1), ("v5", 1), ("v5-", 2), ("v6", 2),
                                                                 ("v7", 0), ("v7", 0)]


def test_first_rate_counts_gold_pairs_put_first() -> None:
    from training.verifier.abstract import first_rate

    claims = [{"id": 1, "evidence": {"a": [], "b": []}}, {"id": 2, "evidence": {"c": []}}, {"id": 3, "evidence": {}}]
    items = [{"claim": claims[0], "doc": "a", "gold": 0, "rank": 1}, {"claim": claims[0], "doc": "x", "gold": 2, "rank": 0},
             {"claim": claims[0], "doc": "b", "gold": 1, "rank": 2}, {"claim": claims[1], "doc": "c", "gold": 0, "rank": 0},
             {"claim": claims[2], "doc": "y", "gold": 2, "rank": 0}]
    assert first_rate(items, claims, key=lambda it: it["rank"]) == pytest.approx(1 / 3)  # only claim 2's c of 3 pairs
    assert first_rate(items, claims, key=lambda it: it["gold"]) == pytest.approx(2 / 3)  # a, c


def test_outcomes_sort_verdicts_by_what_went_wrong() -> None:
    from helpers.verification.verifier import Verdict
    from training.verifier.calibrate import outcomes

    claims = [{"id": 1, "evidence": {"5": []}}, {"id": 2, "evidence": {}}]
    v = lambda label: Verdict(label, 0.9, {})  # noqa: E731
    pairs = [({"claim": claims[0], "gold": 1}, v("REFUTES")), ({"claim": claims[0], "gold": 1}, v("SUPPORTS")),
             ({"claim": claims[0], "gold": 0}, v("NOT ENOUGH INFO")), ({"claim": claims[0], "gold": 2}, v("SUPPORTS")),
             ({"claim": claims[1], "gold": 2}, v("REFUTES")), ({"claim": claims[1], "gold": 2}, v("NOT ENOUGH INFO"))]
    assert outcomes(pairs, claims) == {"right label": 1, "wrong label": 1, "abstained on evidence": 1,
                                       "verdict on another abstract": 1, "verdict on a claim without evidence": 1}


def test_learning_curve_subsets_are_nested_seeded_and_sized() -> None:
    claims = _claims(400)
    half, quarter = kept_claims(claims, 0.5), kept_claims(claims, 0.25)
    assert kept_claims(claims, 1.0) is None
    assert quarter < half  # a smaller fraction keeps a subset of a larger one's claims
    assert 150 < len(half) < 250 and 60 < len(quarter) < 140
    assert kept_claims(list(reversed(claims)), 0.5) == half  # order of the file does not matter
    assert kept_claims(claims, 0.5, seed=78) != half
    with pytest.raises(ValueError, match="fraction"):
        kept_claims(claims, 0.0)
