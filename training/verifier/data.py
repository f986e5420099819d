"""Data recipe for the verifier: (claim, evidence sentence, label) pairs and the SciFact validation split.

Run with the project venv (it needs `helpers` for BM25 hard negatives):
    python -m training.verifier.data --out /work/cache/verifier-data

Writes train.jsonl (pairs), val_claims.jsonl / train_claims.jsonl (SciFact claims of each side of the split),
healthver_heldout.jsonl (HealthVer dev pairs of held-out claims, never trained on) and split.json.
Labels: 0 = SUPPORTS, 1 = REFUTES, 2 = NOT ENOUGH INFO.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

from helpers import config
from helpers.retrieval.search import search
from helpers.retrieval.store import open_corpus
from helpers.text import content_words

SEED = 20
VAL_FRACTION = 0.2
SUP, REF, NEI = 0, 1, 2
SCIFACT_LABEL = {"SUPPORT": SUP, "CONTRADICT": REF}


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def split_claims(claims: list[dict], fraction: float = VAL_FRACTION, seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """Deterministic train/val split of SciFact claims by claim id."""
    ids = sorted(c["id"] for c in claims)
    val_ids = set(random.Random(seed).sample(ids, round(fraction * len(ids))))
    return [c for c in claims if c["id"] not in val_ids], [c for c in claims if c["id"] in val_ids]


def _overlap(claim: str, sent: str) -> float:
    cw = set(content_words(claim))
    return len(cw & set(content_words(sent))) / max(1, len(cw))


def scifact_pairs(claims: list[dict], corpus: dict[int, dict], rng: random.Random, n_retrieved: int = 5,
                  per_doc_neg: int = 4, per_retrieved_neg: int = 2, store=None) -> list[dict]:
    """Rationale sentences -> SUP/REF; other sentences of cited and retrieved abstracts -> NEI (hard negatives first)."""
    store = store or open_corpus("scifact")
    out: list[dict] = []
    for c in claims:
        claim = c["claim"]
        gold_docs = {int(d) for d in c["evidence"]}
        for doc_id, sets in c["evidence"].items():
            sents = corpus[int(doc_id)]["abstract"]
            rationale: set[int] = set()
            for ev in sets:
                for i in ev["sentences"]:
                    rationale.add(i)
                    out.append({"claim": claim, "sentence": sents[i], "label": SCIFACT_LABEL[ev["label"]], "src": "scifact"})
            others = [i for i in range(len(sents)) if i not in rationale]
            others.sort(key=lambda i: -_overlap(claim, sents[i]))
            pick = others[: per_doc_neg // 2] + rng.sample(others[per_doc_neg // 2:], min(per_doc_neg // 2, max(0, len(others) - per_doc_neg // 2)))
            out += [{"claim": claim, "sentence": sents[i], "label": NEI, "src": "scifact-doc"} for i in pick]
        # cited-but-not-evidence abstracts (NEI claims) and retrieved non-evidence abstracts: hard negatives
        cited = [int(d) for d in c.get("cited_doc_ids", []) if int(d) not in gold_docs]
        hits = [int(h.doc_id.split(":", 1)[1]) for h in search(store, claim, k=n_retrieved + len(gold_docs))]
        retrieved = [d for d in hits if d not in gold_docs][:n_retrieved]
        for doc in dict.fromkeys(cited + retrieved):
            sents = corpus[doc]["abstract"]
            ranked = sorted(range(len(sents)), key=lambda i: -_overlap(claim, sents[i]))
            n = per_doc_neg if doc in cited else per_retrieved_neg
            out += [{"claim": claim, "sentence": sents[i], "label": NEI, "src": "scifact-retrieved"} for i in ranked[:n]]
    return out


def healthver_pairs(path: Path, rng: random.Random, heldout_fraction: float = 0.3) -> tuple[list[dict], list[dict]]:
    """HealthVer dev pairs split by claim: (train part, held-out part)."""
    lab = {"Supports": SUP, "Refutes": REF, "Neutral": NEI}
    with open(path, encoding="utf-8") as fh:
        rows = [{"claim": r["claim"], "sentence": r["evidence"], "label": lab[r["label"]], "src": "healthver"}
                for r in csv.DictReader(fh)]
    claims = sorted({r["claim"] for r in rows})
    held = set(random.Random(SEED).sample(claims, round(heldout_fraction * len(claims))))
    return [r for r in rows if r["claim"] not in held], [r for r in rows if r["claim"] in held]


def covidfact_pairs(path: Path, rng: random.Random, n_claims: int = 1500, n_nei: int = 500) -> list[dict]:
    """COVID-Fact: claim vs. its evidence sentences (SUP/REF); NEI from another claim's evidence."""
    rows = read_jsonl(path)
    sample = rng.sample(rows, min(n_claims, len(rows)))
    out = []
    for r in sample:
        ev = [s for s in r["evidence"] if s.strip()]
        if not ev:
            continue
        best = max(ev, key=lambda s: _overlap(r["claim"], s))
        out.append({"claim": r["claim"], "sentence": best, "label": SUP if r["label"] == "SUPPORTED" else REF, "src": "covidfact"})
    for r in rng.sample(rows, n_nei):
        other = rng.choice(rows)
        if other["claim"] != r["claim"] and other["evidence"]:
            out.append({"claim": r["claim"], "sentence": rng.choice(other["evidence"]), "label": NEI, "src": "covidfact-nei"})
    return out


def climate_fever_pairs(path: Path, rng: random.Random, max_nei: int = 1500) -> list[dict]:
    """CLIMATE-FEVER per-evidence labels (Wikipedia sentences; domain shift)."""
    lab = {"SUPPORTS": SUP, "REFUTES": REF, "NOT_ENOUGH_INFO": NEI}
    pos, nei = [], []
    for r in read_jsonl(path):
        for ev in r["evidences"]:
            item = {"claim": r["claim"], "sentence": ev["evidence"], "label": lab[ev["evidence_label"]], "src": "climate-fever"}
            (nei if item["label"] == NEI else pos).append(item)
    return pos + rng.sample(nei, min(max_nei, len(nei)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=config.cache_dir() / "verifier-data")
    args = ap.parse_args()
    data = config.data_root()
    rng = random.Random(SEED)
    args.out.mkdir(parents=True, exist_ok=True)
    claims = read_jsonl(data / "scifact" / "claims_train.jsonl")
    corpus = {d["doc_id"]: d for d in read_jsonl(data / "scifact" / "corpus.jsonl")}
    train_claims, val_claims = split_claims(claims)
    pairs = scifact_pairs(train_claims, corpus, rng)
    hv_train, hv_held = healthver_pairs(data / "healthver" / "dev.csv", rng)
    pairs += hv_train + covidfact_pairs(data / "covidfact" / "train.jsonl", rng)
    pairs += climate_fever_pairs(data / "climate-fever" / "train.jsonl", rng)
    rng.shuffle(pairs)
    for name, rows in [("train.jsonl", pairs), ("train_claims.jsonl", train_claims), ("val_claims.jsonl", val_claims),
                       ("healthver_heldout.jsonl", hv_held)]:
        with open(args.out / name, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)
    counts: dict[str, list[int]] = {}
    for p in pairs:
        counts.setdefault(p["src"], [0, 0, 0])[p["label"]] += 1
    split = {"seed": SEED, "val_fraction": VAL_FRACTION, "val_claim_ids": sorted(c["id"] for c in val_claims),
             "counts_sup_ref_nei": counts, "n_pairs": len(pairs), "healthver_heldout_pairs": len(hv_held)}
    (args.out / "split.json").write_text(json.dumps(split, indent=1))
    print(json.dumps({k: v for k, v in split.items() if k != "val_claim_ids"}, indent=1))


if __name__ == "__main__":
    main()
