"""Fit the stance model's answer head on PubMedQA-L over the stage-A cross-encoder, measured out of fold.

    python -m training.stance.head --work /work/cache/stance --pairs PAIRS.jsonl --out models/stance

The stage-A model (training.stance.train) is exported to int8 ONNX with two outputs, its four logits (yes / no /
maybe / unrelated) and its pooled [CLS] vector, and run once over the 500 PubMedQA items through the shipped
runtime. A multinomial logistic head over the pooled vector and the logits reads yes / no / maybe; its
regularisation is chosen by 5-fold cross-validation (folds by pmid) and every figure printed is out of fold.
Then the temperature and the per-answer offsets are fitted on those out-of-fold scores (offsets for macro-F1,
themselves cross-fitted when reported). Writes model.onnx, tokenizer.json and calibration.json (head included).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from tokenizers import Tokenizer

from helpers.text import split_sentences
from helpers.verification.stance import MAX_LEN, StanceCalibration, tail_sentences
from training.stance.calibrate import ANSWERS, fit_bias, fit_temperature, report
from training.stance.data import N_FOLDS

C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3)


class _Both(torch.nn.Module):
    """The classifier's logits and the pooled [CLS] vector it reads them from."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: D102
        out = self.model.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        pooled = out.pooler_output
        return self.model.classifier(pooled), pooled


def export(ckpt: Path, path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(ckpt).float().eval()
    names = ["input_ids", "attention_mask", "token_type_ids"]
    dummy = tuple(torch.ones((1, 8), dtype=torch.long) for _ in names)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        dyn = {n: {0: "batch", 1: "seq"} for n in names} | {"logits": {0: "batch"}, "pooled": {0: "batch"}}
        torch.onnx.export(_Both(model), dummy, str(fp32), input_names=names, output_names=["logits", "pooled"],
                          dynamic_axes=dyn, opset_version=17, dynamo=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        quantize_dynamic(str(fp32), str(path), weight_type=QuantType.QInt8)


def features(onnx_path: Path, tok_path: Path, items: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(logits, pooled) for each item through onnxruntime, one pair per run (as the runtime scores)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    count = Tokenizer.from_file(str(tok_path))
    count.no_truncation()
    count.no_padding()
    pair = Tokenizer.from_file(str(tok_path))
    pair.no_padding()
    pair.enable_truncation(max_length=MAX_LEN, strategy="longest_first")
    logits, pooled = [], []
    for r in items:
        b = " ".join(tail_sentences(r["a"], split_sentences(r["b"]) or [r["b"]], count, MAX_LEN))
        e = pair.encode(r["a"], b)
        ids = np.array([e.ids], dtype=np.int64)
        lo, po = sess.run(["logits", "pooled"], {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                                  "token_type_ids": np.array([e.type_ids], dtype=np.int64)})
        logits.append(lo[0])
        pooled.append(po[0])
    return np.array(logits), np.array(pooled)


def head_inputs(logits: np.ndarray, pooled: np.ndarray) -> np.ndarray:
    return np.hstack([pooled, logits])


def oof_head(X: np.ndarray, gold: np.ndarray, folds: np.ndarray, C: float) -> np.ndarray:
    """Out-of-fold decision scores (n, 3) of a standardised multinomial logistic head."""
    out = np.zeros((len(gold), 3))
    for k in range(N_FOLDS):
        tr, te = folds != k, folds == k
        mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-6
        m = LogisticRegression(C=C, max_iter=4000).fit((X[tr] - mu) / sd, gold[tr])
        out[te] = m.decision_function((X[te] - mu) / sd)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="training.stance.train's work folder (stage-a/)")
    ap.add_argument("--pairs", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    from training.stance.train import base_path

    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path, tok_path = args.out / "model.onnx", args.out / "tokenizer.json"
    export(args.work / "stage-a", onnx_path)
    Tokenizer.from_file(str(base_path() / "tokenizer.json")).save(str(tok_path))
    pqa = [r for r in (json.loads(x) for x in open(args.pairs, encoding="utf-8")) if r["source"] == "pubmedqa"]
    gold = np.array([ANSWERS.index(r["label"]) for r in pqa])
    folds = np.array([r["fold"] for r in pqa])
    logits, pooled = features(onnx_path, tok_path, pqa)
    np.save(args.work / "pqa_logits.npy", logits)
    np.save(args.work / "pqa_pooled.npy", pooled)
    n = len(gold)
    from sklearn.metrics import f1_score

    print(f"PubMedQA-L, {n} items out of fold (5 folds by pmid); majority class 'yes': accuracy {np.mean(gold == 0):.3f}, "
          f"macro-F1 {f1_score(gold, np.zeros(n, int), average='macro', labels=[0, 1, 2], zero_division=0):.3f}")
    report("stage A alone (yes/no/maybe logits)", StanceCalibration().answer_probs(logits), gold)
    X = head_inputs(logits, pooled)
    best = None
    for C in C_GRID:
        scores = oof_head(X, gold, folds, C)
        m = report(f"head, C = {C}", StanceCalibration().answer_probs(scores), gold)
        if best is None or m["macro_f1"] + m["accuracy"] > best[1]["macro_f1"] + best[1]["accuracy"]:
            best = (C, m, scores)
    C, _, scores = best
    t = fit_temperature(scores, gold)
    metrics = {"C": C, "head": report(f"head C = {C}, temperature {t:.2f}", StanceCalibration(t).answer_probs(scores), gold)}
    cross = np.zeros((n, 3))
    for k in range(N_FOLDS):
        tr, te = folds != k, folds == k
        tk = fit_temperature(scores[tr], gold[tr])
        cross[te] = StanceCalibration(tk, fit_bias(scores[tr], gold[tr], tk)).answer_probs(scores[te])
    metrics["with_offsets_cross_fitted"] = report("head + offsets (cross-fitted)", cross, gold)
    bias = fit_bias(scores, gold, t)
    mu, sd = X.mean(0), X.std(0) + 1e-6
    final = LogisticRegression(C=C, max_iter=4000).fit((X - mu) / sd, gold)
    # the standardisation folded into the weights: z = W (x - mu) / sd + b = (W / sd) x + (b - W mu / sd)
    W = final.coef_ / sd
    b = final.intercept_ - W @ mu
    cal = StanceCalibration(t, [float(x) for x in bias], meta={
        "fitted_on": f"out-of-fold scores of {n} PubMedQA-L trainval items (training/stance/head.py), head over the "
                     "stage-A model's pooled vector and logits",
        "metrics": metrics}, head={"weights": W.round(6).tolist(), "intercept": b.round(6).tolist()})
    (args.out / "calibration.json").write_text(json.dumps(cal.__dict__, indent=1) + "\n")
    print(f"wrote {onnx_path}, {tok_path}, {args.out / 'calibration.json'}")


if __name__ == "__main__":
    main()
