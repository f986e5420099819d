"""Stage-2 data: a SciFact-heavy subset of train.jsonl for continuing from the stage-1 checkpoint.

    python -m training.verifier.stage2 --data /work/cache/verifier-data   # writes train_stage2.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

QUOTA = {"scifact": None, "scifact-doc": None, "scifact-retrieved": 3000, "healthver": None,
         "covidfact": 700, "covidfact-nei": 200, "climate-fever": 800}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, required=True)
    args = ap.parse_args()
    rng = random.Random(21)
    rows = [json.loads(line) for line in open(args.data / "train.jsonl", encoding="utf-8")]
    out = []
    for src, n in QUOTA.items():
        part = [r for r in rows if r["src"] == src]
        out += part if n is None else rng.sample(part, min(n, len(part)))
    rng.shuffle(out)
    with open(args.data / "train_stage2.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in out)
    print(len(out), "pairs")


if __name__ == "__main__":
    main()
