"""The five-fold training's bookkeeping (training/verifier/cv.py): fold assignment, the abstracts each fold keeps
out of its corpus pairs, and the rebuilding of calibration items from out-of-fold logits."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from training.verifier.cv import ALL, FOLDS, assign_folds, held_docs, scored_items


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
