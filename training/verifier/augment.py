"""Claim negation by rule, to augment the direction model's training data (training/verifier/direction.py).

SciFact's contradicted claims were written by annotators who negated a supported claim: inserted "not", or
swapped a word for its opposite ("increases" -> "decreases"). `negate()` makes the same kind of edit, so a
supported (claim, rationale) pair also teaches the opposite label, and back. Returns None when no rule applies.
(Averaging the direction model over a claim and its negation at inference was measured and did not help:
open label-only F1 0.449 with it, 0.453 without; it is not used.)
"""

from __future__ import annotations

import re

_PAIRS = [
    ("increase", "decrease"), ("increases", "decreases"), ("increased", "decreased"), ("increasing", "decreasing"),
    ("higher", "lower"), ("more", "less"), ("greater", "smaller"), ("larger", "smaller"),
    ("positive", "negative"), ("positively", "negatively"),
    ("promotes", "inhibits"), ("promote", "inhibit"), ("promoted", "inhibited"),
    ("activates", "suppresses"), ("activate", "suppress"), ("activated", "suppressed"),
    ("enhances", "impairs"), ("enhance", "impair"), ("enhanced", "impaired"),
    ("improves", "worsens"), ("improve", "worsen"), ("improved", "worsened"),
    ("upregulates", "downregulates"), ("upregulated", "downregulated"), ("upregulation", "downregulation"),
    ("up-regulates", "down-regulates"), ("up-regulated", "down-regulated"),
    ("effective", "ineffective"), ("safe", "unsafe"), ("present", "absent"), ("common", "rare"),
    ("rises", "falls"), ("risen", "fallen"), ("gain", "loss"), ("before", "after"),
    ("susceptible", "resistant"), ("sufficient", "insufficient"), ("benefit", "harm"), ("beneficial", "harmful"),
    ("high", "low"), ("elevated", "reduced"), ("stimulates", "inhibits"), ("induces", "prevents"),
]
_SWAP = {a: b for a, b in _PAIRS} | {b: a for a, b in _PAIRS}
_WORD = re.compile(r"[A-Za-z][A-Za-z-]*")
_AUX = re.compile(r"\b(is|are|was|were|can|could|may|might|will|would|should|has|have|had|does|do|did)\b(?! not\b)")
_NOT = re.compile(r"\b(is|are|was|were|can|could|may|might|will|would|should|has|have|had|does|do|did) not\b")


def _case_like(word: str, model: str) -> str:
    return word.capitalize() if model[:1].isupper() else word


def swap_opposite(claim: str) -> str | None:
    """Replace the first word that has an opposite in the table ("increases" -> "decreases")."""
    for m in _WORD.finditer(claim):
        other = _SWAP.get(m.group(0).lower())
        if other:
            return claim[:m.start()] + _case_like(other, m.group(0)) + claim[m.end():]
    return None


def remove_negation(claim: str) -> str | None:
    """Undo an explicit "AUX not": "does not reduce" -> "does reduce", "is not" -> "is"."""
    m = _NOT.search(claim)
    if not m:
        return None
    return claim[:m.start()] + m.group(1) + claim[m.end():]


def insert_negation(claim: str) -> str | None:
    """Put "not" after the first auxiliary verb ("is associated" -> "is not associated")."""
    m = _AUX.search(claim)
    if not m:
        return None
    return claim[:m.end()] + " not" + claim[m.end():]


def negate(claim: str) -> str | None:
    """A claim with the opposite meaning, or None: remove an explicit negation, else swap an opposite word,
    else insert "not" after the first auxiliary."""
    for rule in (remove_negation, swap_opposite, insert_negation):
        out = rule(claim)
        if out and out != claim:
            return out
    return None


_LABEL = re.compile(r"^\s*(\[?(conclusions?|interpretation|significance|summary)\]?[:.]?\s+)", re.I)
_SETUP = re.compile(r"^\s*(background|objectives?|methods?|aims?|purpose|design|setting|context|introduction)\b", re.I)
_LEAD = re.compile(r"^(in (summary|conclusion),?\s+)?((these|our|the) (results|data|findings|observations|studies|experiments)"
                   r"( of (this|the present|our) (study|work|trial))?"
                   r"|this( study| work)?|we|taken together,? (these|our) (results|data|findings))\s+"
                   r"(suggest|suggests|demonstrate|demonstrates|indicate|indicates|show|shows|reveal|reveals|establish|"
                   r"establishes|provide evidence|support the hypothesis|conclude)\s+(that\s+)?", re.I)
_WORDS = re.compile(r"[a-z][a-z0-9-]{2,}")


def conclusion_claim(sentence: str) -> str | None:
    """A claim-like proposition from an abstract's concluding sentence, or None if it does not look like one."""
    text = _LEAD.sub("", _LABEL.sub("", sentence.strip())).strip()
    if not 6 <= len(text.split()) <= 40:
        return None
    return text[0].upper() + text[1:]


def corpus_pairs(abstracts: list[list[str]], min_overlap: float = 0.3, every_finding: bool = False,
                 findings_only: bool = False, src: str = "corpus") -> list[dict]:
    """Unlabelled abstracts -> (claim, evidence) direction pairs: the conclusion, rewritten as a claim, is SUPPORTED
    by the abstract's most overlapping other sentence; its rule negation is REFUTED by the same sentence.
    With `every_finding`, every sentence that opens like a finding ("These results suggest that ...", "We show
    that ...") is used as well, not only the last one; with `findings_only`, only those (for abstracts whose last
    sentence is rarely a conclusion, e.g. arXiv's "Code is available at ...")."""
    out = []
    for sents in abstracts:
        if len(sents) < 3:
            continue
        picks = [] if findings_only else [len(sents) - 1]
        if every_finding or findings_only:
            last = len(sents) if findings_only else len(sents) - 1
            picks = [i for i in range(1, last) if _LEAD.match(_LABEL.sub("", sents[i].strip()))] + picks
        for k in picks:
            claim = conclusion_claim(sents[k])
            if not claim:
                continue
            words = set(_WORDS.findall(claim.lower()))
            scored = [(len(words & set(_WORDS.findall(s.lower()))) / max(1, len(words)), s)
                      for i, s in enumerate(sents) if i not in (0, k) and not _SETUP.match(s)]
            if not scored:
                continue
            overlap, evidence = max(scored)
            if overlap < min_overlap:
                continue
            out.append({"claim": claim, "sentence": evidence, "label": 0, "src": src})
            neg = negate(claim)
            if neg:
                out.append({"claim": neg, "sentence": evidence, "label": 1, "src": src + "-neg"})
    return out


def negate_sentence(sentence: str, max_words: int = 35) -> str | None:
    """`negate` for an evidence sentence, only where the edit is unambiguous: a short sentence with exactly one
    place a rule could edit (one explicit "AUX not", or one word with an opposite, or else a single auxiliary), so
    the edit most likely hits the finding and not a side clause."""
    if len(sentence.split()) > max_words:
        return None
    sites = len(_NOT.findall(sentence)) + sum(m.group(0).lower() in _SWAP for m in _WORD.finditer(sentence))
    if sites == 0 and len(_AUX.findall(sentence)) != 1:
        return None
    return negate(sentence) if sites <= 1 else None


def evidence_twins(rows: list[dict]) -> list[dict]:
    """Contrast pairs that negate the *evidence*: for each SUPPORTED (claim, sentence) pair whose sentence a rule can
    negate, (claim, negated sentence) is REFUTED and (negated claim, negated sentence) is SUPPORTED again. Refuted
    claims in SciFact are natural text while the evidence carries the opposite word ("encourages proliferation" vs
    "reduces proliferation"); claim-side negation alone lets a model learn that an edited claim means REFUTES."""
    out = []
    for r in rows:
        if r["label"] != 0:
            continue
        neg_s = negate_sentence(r["sentence"])
        if not neg_s:
            continue
        out.append({**r, "sentence": neg_s, "label": 1, "src": r["src"] + "-eneg"})
        neg_c = negate(r["claim"])
        if neg_c:
            out.append({**r, "claim": neg_c, "sentence": neg_s, "label": 0, "src": r["src"] + "-both"})
    return out
