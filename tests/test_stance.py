"""The stance model: what it reads, how its outputs are calibrated, and what it says on real abstracts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tokenizers import Tokenizer

from helpers.errors import ModelError
from helpers.records import Paper
from helpers.verification.stance import MAX_LEN, StanceCalibration, StanceModel, model_dir, tail_sentences


def _tokenizer() -> Tokenizer:
    tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


def test_tail_keeps_the_last_sentences_that_fit_in_order():
    tok = _tokenizer()
    sents = [f"Sentence number {i} says something about the results of the study in some detail." for i in range(40)]
    kept = tail_sentences("Does it work?", sents, tok, MAX_LEN)
    assert kept == sents[-len(kept):] and 3 < len(kept) < 40
    n = len(tok.encode("Does it work?", " ".join(kept)).ids)
    assert n <= MAX_LEN < len(tok.encode("Does it work?", " ".join(sents[-len(kept) - 1:])).ids)
    assert tail_sentences("Q?", ["one very long sentence " * 200], tok, MAX_LEN) == ["one very long sentence " * 200]


def test_calibration_head_offsets_and_temperature():
    logits = np.array([[2.0, 0.0, -1.0, -3.0], [0.0, 1.0, 0.0, 0.0]])
    plain = StanceCalibration().answer_probs(logits)
    assert np.allclose(plain.sum(1), 1) and plain[0].argmax() == 0 and plain[1].argmax() == 1
    hot = StanceCalibration(temperature=2.0).answer_probs(logits)
    assert hot[0].max() < plain[0].max()  # a higher temperature is less confident
    assert StanceCalibration(bias=[0.0, 0.0, 5.0]).answer_probs(logits)[0].argmax() == 2
    pooled = np.array([[1.0, 0.0], [0.0, 1.0]])
    head = {"weights": [[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]], "intercept": [0, 0, 0]}
    with_head = StanceCalibration(head=head).answer_probs(logits, pooled)
    assert with_head[0].argmax() == 0 and with_head[1].argmax() == 1
    with pytest.raises(ModelError):
        StanceCalibration(head=head).answer_probs(logits)


def test_shipped_calibration_records_out_of_fold_figures():
    cal = StanceCalibration.load(model_dir() / "calibration.json")
    m = cal.meta["metrics"]
    assert "with_offsets_cross_fitted" in m and 0 <= m["with_offsets_cross_fitted"]["ece"] <= 1
    data = json.loads((model_dir() / "calibration.json").read_text())
    assert data["head"] is None or len(data["head"]["weights"]) == 3


def test_stances_on_real_abstracts():
    yes = Paper(id="a", title="", abstract=(
        "We study whether post-training quantization harms reasoning. We evaluate 4-bit and 3-bit models on GSM8K "
        "and MATH. Accuracy drops significantly at 3 bits and below, by up to 12 points, while 8-bit quantization is "
        "nearly lossless. Lower bit-widths significantly degrade mathematical reasoning performance."))
    off = Paper(id="b", title="", abstract=(
        "We present a dataset of bird songs recorded in the Amazon. The recordings cover 300 species. "
        "We release the audio and the annotations."))
    model = StanceModel()
    st_yes, st_off = model.stances("Does quantizing language models to 4 bits or fewer degrade math reasoning?", [yes, off])
    assert st_yes.label in ("yes", "mixed") and st_off.label == "not addressed"
    assert abs(sum(v for k, v in st_yes.probs.items() if k != "unrelated") - 1) < 1e-6
