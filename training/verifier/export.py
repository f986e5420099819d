"""Export the fine-tuned cross-encoder to ONNX and quantise it to int8 (dynamic, onnxruntime).

    /work/venv-train/bin/python training/verifier/export.py --ckpt /work/cache/verifier-ckpt --out models/verifier
Writes model.onnx (int8) and tokenizer.json; inputs input_ids / attention_mask / token_type_ids, output logits.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from transformers import AutoModelForSequenceClassification, AutoTokenizer


class _Logits(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: D102
        return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits


def export_int8(model: torch.nn.Module, tok, path: Path) -> None:
    """`model` (a sequence classifier, moved to the CPU) -> int8 ONNX at `path`."""
    model = model.cpu().float().eval()
    enc = tok(["a claim"], ["a sentence"], return_tensors="pt")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model-fp32.onnx"
        names = ["input_ids", "attention_mask", "token_type_ids"]
        dyn = {n: {0: "batch", 1: "seq"} for n in names} | {"logits": {0: "batch"}}
        torch.onnx.export(_Logits(model), tuple(enc[n] for n in names), str(fp32), input_names=names,
                          output_names=["logits"], dynamic_axes=dyn, opset_version=17, dynamo=False)
        quantize_dynamic(str(fp32), str(path), weight_type=QuantType.QInt8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ckpt", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--name", default="model.onnx", help="file name of the int8 model in --out")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = AutoModelForSequenceClassification.from_pretrained(args.ckpt).eval()
    export_int8(model, AutoTokenizer.from_pretrained(args.ckpt), args.out / args.name)
    shutil.copy(Path(args.ckpt) / "tokenizer.json", args.out / "tokenizer.json")
    print(f"wrote {args.out / args.name} ({(args.out / args.name).stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
