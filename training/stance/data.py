"""Training pairs for the stance model: (question or claim, abstract) -> yes / no / maybe / unrelated.

    python -m training.stance.data --out /work/cache/stance/pairs.jsonl

Sources (all under the data root; the held-aside splits are not there and are never read):
- PubMedQA-L (500 items): question + contexts (never LONG_ANSWER), yes / no / maybe; `fold` = hash of the pmid
  mod 5, for cross-validation.
- Evidence Inference 2.0: each doctor-labelled (intervention, comparator, outcome) prompt whose evidence text
  is in the abstract, as a templated question and its direction-flipped twin (MultiVerS-style weak supervision):
  "significantly increased" -> "Does I increase O compared with C?" yes, "... decrease ...?" no; "no significant
  difference" -> both no. The abstract's conclusions and title are left out, as PubMedQA leaves them out.
- SciFact train, HealthVer dev, Check-COVID train and COVID-Fact (70% part): claims read as hypotheses against
  their abstract or evidence: SUPPORT -> yes, REFUTE -> no, NOT ENOUGH INFO -> unrelated (not addressed);
  SciFact claims also against a retrieved abstract that is not their evidence -> unrelated.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import re
from collections import Counter
from pathlib import Path

from helpers import config
from helpers.text import split_sentences

STANCES = ("yes", "no", "maybe", "unrelated")
N_FOLDS = 5


def fold_of(key: str, n: int = N_FOLDS) -> int:
    """A fixed hash fold for cross-validation (independent of file order)."""
    return int(hashlib.sha256(f"stance-fold:{key}".encode()).hexdigest()[:8], 16) % n


def pubmedqa(path: Path) -> list[dict]:
    """PubMedQA-format items as pairs (reasoning-required: question + contexts)."""
    data = json.loads(Path(path).read_text())
    out = []
    for pmid, it in data.items():
        out.append({"a": it["QUESTION"], "b": " ".join(it["CONTEXTS"]), "label": it["final_decision"],
                    "source": "pubmedqa", "group": f"pqa:{pmid}", "fold": fold_of(pmid)})
    return out


_SECTION = re.compile(r"^ABSTRACT\.([A-Z &/-]+):\s*$")


def _abstract_without_conclusions(text: str) -> str:
    """An Evidence Inference .abst file's abstract body, its title and CONCLUSION(S) sections dropped."""
    keep, section = [], ""
    for line in text.splitlines():
        m = _SECTION.match(line.strip())
        if m:
            section = m.group(1)
            continue
        if line.startswith("TITLE:") or not line.strip() or not section:
            continue
        if "CONCLUSION" in section or "INTERPRETATION" in section:
            continue
        keep.append(line.strip())
    return " ".join(keep)


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip().lower()


def _clip(phrase: str, n: int = 14) -> str:
    words = phrase.split()
    return " ".join(words[:n])


def evidence_inference(root: Path, seed: int = 13) -> list[dict]:
    """Templated yes/no questions (and flipped twins) from prompts whose evidence text is in the abstract."""
    prompts = {r["PromptID"]: r for r in csv.DictReader(open(root / "prompts_merged.csv", encoding="utf-8"))}
    labels: dict[str, Counter] = {}
    evidence: dict[str, list[str]] = {}
    for r in csv.DictReader(open(root / "v2_annotations.csv", encoding="utf-8")):
        if r["Valid Label"] != "True" or r["PromptID"] not in prompts:
            continue
        lab = r["Label"].replace("significantly increase", "significantly increased").replace("increasedd", "increased")
        labels.setdefault(r["PromptID"], Counter())[lab] += 1
        evidence.setdefault(r["PromptID"], []).append(r["Annotations"])
    rng = random.Random(seed)
    out = []
    cache: dict[str, str] = {}
    for pid, counts in labels.items():
        (lab, n), = counts.most_common(1)
        if n * 2 <= sum(counts.values()):  # annotators disagree
            continue
        p = prompts[pid]
        path = root / "abstracts" / f"PMC{p['PMCID']}.abst"
        if not path.exists():
            continue
        if p["PMCID"] not in cache:
            cache[p["PMCID"]] = _abstract_without_conclusions(path.read_text(encoding="utf-8", errors="replace"))
        body = cache[p["PMCID"]]
        low = _norm(body)
        snippets = [_norm(line)[:80] for e in evidence[pid] for line in e.splitlines() if len(line.strip()) >= 25]
        if not any(s in low for s in snippets):
            continue  # the evidence is in the full text only: the abstract may not answer
        i, c, o = _clip(p["Intervention"]), _clip(p["Comparator"]), _clip(p["Outcome"])
        up, down = f"Does {i} increase {o} compared with {c}?", f"Does {i} reduce {o} compared with {c}?"
        if lab == "significantly increased":
            pairs = [(up, "yes"), (down, "no")]
        elif lab == "significantly decreased":
            pairs = [(down, "yes"), (up, "no")]
        elif lab == "no significant difference":
            pairs = [(rng.choice([up, down]), "no")]
        else:
            continue
        for q, y in pairs:
            out.append({"a": q, "b": body, "label": y, "source": "evidence-inference", "group": f"ei:{p['PMCID']}",
                        "fold": fold_of(p["PMCID"])})
    return out


LABEL_MAP = {"SUPPORT": "yes", "SUPPORTS": "yes", "SUPPORTED": "yes", "Supports": "yes",
             "CONTRADICT": "no", "REFUTE": "no", "REFUTES": "no", "REFUTED": "no", "Refutes": "no",
             "NOTENOUGHINFO": "unrelated", "NOT ENOUGH INFO": "unrelated", "Neutral": "unrelated"}


def scifact(root: Path, seed: int = 13) -> list[dict]:
    """SciFact train claims against their cited abstracts, and against one other (unrelated) abstract."""
    corpus = {}
    for line in open(root / "corpus.jsonl", encoding="utf-8"):
        d = json.loads(line)
        corpus[d["doc_id"]] = " ".join(d["abstract"])
    ids = sorted(corpus)
    rng = random.Random(seed)
    out = []
    for line in open(root / "claims_train.jsonl", encoding="utf-8"):
        c = json.loads(line)
        for doc in c.get("cited_doc_ids", []):
            ev = (c.get("evidence") or {}).get(str(doc))
            y = LABEL_MAP[ev[0]["label"]] if ev else "unrelated"
            if doc in corpus:
                out.append({"a": c["claim"], "b": corpus[doc], "label": y, "source": "scifact",
                            "group": f"sf:{c['id']}", "fold": fold_of(f"sf{c['id']}")})
        other = rng.choice(ids)
        if other not in c.get("cited_doc_ids", []):
            out.append({"a": c["claim"], "b": corpus[other], "label": "unrelated", "source": "scifact",
                        "group": f"sf:{c['id']}", "fold": fold_of(f"sf{c['id']}")})
    return out


def healthver(path: Path) -> list[dict]:
    out = []
    for r in csv.DictReader(open(path, encoding="utf-8")):
        out.append({"a": r["claim"], "b": r["evidence"], "label": LABEL_MAP[r["label"]], "source": "healthver",
                    "group": f"hv:{r['claim']}", "fold": fold_of(r["claim"])})
    return out


def check_covid(folder: Path) -> list[dict]:
    """Check-COVID *train* claims against their abstract (dev is kept for the verifier's measurement)."""
    corpus = {}
    for line in open(folder / "corpus.json", encoding="utf-8"):
        d = json.loads(line)
        corpus[d["cord_id"]] = " ".join(d["abstract"])
    out = []
    for line in open(folder / "covidCheck_train_composed+extracted.json", encoding="utf-8"):
        c = json.loads(line)
        news = c["id"].rsplit("_", 1)[0]
        if c["cord_id"] in corpus:
            out.append({"a": c["claim"], "b": corpus[c["cord_id"]], "label": LABEL_MAP[c["label"]],
                        "source": "check-covid", "group": f"cc:{news}", "fold": fold_of(news)})
    return out


def covidfact(path: Path) -> list[dict]:
    out = []
    for line in open(path, encoding="utf-8"):
        c = json.loads(line)
        out.append({"a": c["claim"], "b": " ".join(c["evidence"]), "label": LABEL_MAP[c["label"]],
                    "source": "covidfact", "group": f"cf:{c['claim']}", "fold": fold_of(c["claim"])})
    return out


def thin(rows: list[dict], seed: int = 13) -> list[dict]:
    """What the shipped model was trained on, to fit 2 shared CPU cores: COVID-Fact left out (short claim-evidence
    statements, least like the task), and seeded shares of the "unrelated" pairs kept (HealthVer 35%, SciFact 50%)."""
    rng = random.Random(seed)
    keep = []
    for r in rows:
        if r["source"] == "covidfact":
            continue
        if r["source"] == "healthver" and r["label"] == "unrelated" and rng.random() > 0.35:
            continue
        if r["source"] == "scifact" and r["label"] == "unrelated" and rng.random() > 0.5:
            continue
        keep.append(r)
    return keep


def build(data_root: Path | None = None, all_pairs: bool = False) -> list[dict]:
    root = Path(data_root or config.data_root())
    rows = (pubmedqa(root / "pubmedqa" / "pqal_trainval.json") + evidence_inference(root / "evidence-inference")
            + scifact(root / "scifact") + healthver(root / "healthver" / "dev.csv")
            + check_covid(root / "check-covid") + covidfact(root / "covidfact" / "train.jsonl"))
    for r in rows:
        assert r["label"] in STANCES, r
        r["b"] = " ".join(split_sentences(r["b"])) if "\n" in r["b"] else r["b"]
    return rows if all_pairs else thin(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--all", action="store_true", help="every pair, not the thinned set the shipped model used")
    args = ap.parse_args()
    rows = build(all_pairs=args.all)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    by = Counter((r["source"], r["label"]) for r in rows)
    for src in sorted({s for s, _ in by}):
        print(f"{src:<20}" + "  ".join(f"{lab} {by[(src, lab)]}" for lab in STANCES if by[(src, lab)]))
    print(f"{len(rows)} pairs -> {args.out}")


if __name__ == "__main__":
    main()
