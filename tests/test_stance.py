"""The stance model: its features, its fitted head, and what it says on real abstracts."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.errors import ModelError
from helpers.records import Paper
from helpers.verification.stance import FEATURES, StanceHead, StanceModel, features, model_path


def test_features_read_the_second_half_and_the_cues():
    sents = ["Background on the topic.", "Methods were used.", "There was no significant difference (p = 0.4).",
             "Outcomes were similar between groups."]
    rel = np.array([0.1, 0.1, 0.9, 0.8])
    f = dict(zip(FEATURES, features("Does X improve Y?", sents, rel, np.array([0.5, 0.5, 0.9, 0.8])), strict=True))
    assert f["no-effect cues"] == 2 and f["p not significant"] == 1 and f["question does/do"] == 1
    assert f["direction second half"] > 1.5 and f["relevance max"] > 2  # logits of 0.85 and 0.9
    flipped = dict(zip(FEATURES, features("Does X improve Y?", sents, rel, np.array([0.5, 0.5, 0.1, 0.2])), strict=True))
    assert flipped["direction top 3"] < 0 < f["direction top 3"]
    assert features("Q?", [], np.zeros(0), np.zeros(0)) == [0.0] * len(FEATURES)


def test_head_probabilities_and_validation(tmp_path):
    w = np.zeros((3, len(FEATURES)))
    w[0, 0], w[1, 0] = 1.0, -1.0
    head = StanceHead(w.tolist(), [0.0, 0.0, -5.0], 1.0)
    p = head.probabilities(np.array([[3.0] + [0] * (len(FEATURES) - 1), [-3.0] + [0] * (len(FEATURES) - 1)]))
    assert np.allclose(p.sum(1), 1) and p[0].argmax() == 0 and p[1].argmax() == 1
    hot = StanceHead(w.tolist(), [0.0, 0.0, -5.0], 3.0).probabilities(np.array([[3.0] + [0] * (len(FEATURES) - 1)]))
    assert hot.max() < p[0].max()
    bad = tmp_path / "stance.json"
    bad.write_text('{"weights": [[0]], "intercept": [0, 0, 0], "features": ["x"]}')
    with pytest.raises(ModelError, match="features"):
        StanceHead.load(bad)


def test_shipped_head_records_its_out_of_fold_figures():
    head = StanceHead.load(model_path())
    m = head.meta["out_of_fold"]
    assert m["shipped"]["accuracy"] > m["majority"]["accuracy"]  # it beats always saying yes, out of fold
    assert 0 <= m["shipped"]["ece"] <= 0.1


def test_shipped_llm_head_is_for_the_local_model_and_beats_the_verifier_head_out_of_fold():
    from helpers.llm.settings import DEFAULT_MODEL
    from helpers.llm.stance import load_head

    head = load_head(DEFAULT_MODEL)
    assert head is not None and head.meta["llm_model"] == DEFAULT_MODEL
    m = head.meta["out_of_fold"]  # nested: each fold's C and class weights chosen without it
    assert m["shipped"]["accuracy"] > m["verifier_head"]["accuracy"] > m["majority"]["accuracy"]
    assert m["shipped"]["macro_f1"] > m["verifier_head"]["macro_f1"]
    assert 0 <= m["shipped"]["ece"] <= 0.1


def test_stances_on_real_abstracts():
    yes = Paper(id="a", title="", abstract=(
        "We study whether post-training quantization harms reasoning. We evaluate 4-bit and 3-bit models on GSM8K "
        "and MATH. Accuracy drops significantly at 3 bits and below, by up to 12 points, while 8-bit quantization is "
        "nearly lossless. Lower bit-widths significantly degrade mathematical reasoning performance."))
    no = Paper(id="b", title="", abstract=(
        "We study whether post-training quantization harms reasoning. We evaluate 4-bit and 3-bit models on GSM8K "
        "and MATH. Accuracy was not significantly different between quantized and full-precision models (p = 0.62). "
        "Quantization did not degrade mathematical reasoning performance."))
    st_yes, st_no = StanceModel().stances("Does quantizing language models to 4 bits or fewer degrade math reasoning?",
                                          [yes, no])
    assert st_yes.probs["yes"] > st_no.probs["yes"]  # the model reads the direction of the findings
    assert abs(sum(st_yes.probs.values()) - 1) < 1e-6 and st_yes.label in ("yes", "no", "mixed")
