"""Question analysis: what kind of question it is, the sub-questions a compound question holds, and its facets.

- **Kind**: `yes-no` ("Does X improve Y?"), `comparison` ("Which is faster, A or B?", "How does A compare with
  B?"), `quantitative` ("How much ...?", "What is the trade-off ...?") or `open` ("Which methods ...?").
- **Sub-questions**: a compound question is split where it joins two questions (", and how well do they ..."),
  where a yes/no question adds a side condition ("improve X *without degrading* Y" -> "Does it degrade Y?"), where
  it puts its topic under a condition ("... *when applying* Z" -> a sub-question about Z), and where it asks about
  alternatives ("biased by answer position or length" -> position, length).
- **Facets**: the concepts the question joins, each a keyword group (the phrase, its most specific word, an
  acronym, and synonyms for common evaluation concepts). Concepts that most documents of the corpus mention
  ("models", "large language models" on an LLM corpus) are background, not facets.

Pure text analysis; corpus statistics come in as a `TermStats` (retrieval supplies it from the store).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from .text import STOPWORDS, stem, words

KINDS = ("yes-no", "comparison", "quantitative", "open")
AUX = ("does", "do", "did", "is", "are", "was", "were", "can", "could", "will", "would", "should", "has", "have",
       "had", "may", "might", "must")
_AUX_START = re.compile(rf"^\s*({'|'.join(AUX)})\b", re.I)
_WH_START = re.compile(r"^\s*(what|which|how|why|when|where|who|whom|whose|to what extent|in what)\b", re.I)
_QUANT = re.compile(
    r"^\s*(how (much|many|large|big|fast|far|strong|well|often|long)|by how much|to what (extent|degree)|"
    r"what (is|are) the (trade-?offs?|size|magnitude|effect size|speed-?ups?|costs?|gains?|savings?|impact|effects?)\b)",
    re.I)
_COMPARE = re.compile(r"\b(compared? (to|with)|versus|vs\.?|in comparison (to|with)|compare)\b", re.I)
_COMPARATIVE = re.compile(r"\b(better|worse|faster|slower|more|less|higher|lower|than|outperforms?)\b", re.I)
# joins of two questions: ", and how ...", "; what ...", " and does ..."
_JOIN = re.compile(rf"(?:,\s*|;\s*|\s+)(?:and|but|or)\s+(?=(?:{'|'.join(AUX)}|what|which|how|why|to what|at what|"
                   r"in what|where|who)\b)|;\s+", re.I)
_WITHOUT = re.compile(r"\s+(without|while (?:not )?|at the (?:cost|expense) of)\s+(\w+ing)\b", re.I)
_CONDITION = re.compile(r"\s+(when|if|once)\s+(applying|using|adding|integrating|combining|employing|"
                        r"training with|fine-tuning with)\s+", re.I)
_PRONOUN = re.compile(r"\b(they|it|these|this|them|those)\b", re.I)
# words that tend to start a yes/no question's predicate: the subject ends before them
PREDICATE_VERBS = frozenset(
    """improve improves improved increase increases reduce reduces lower lowers degrade degrades hurt hurts help helps
    affect affects change changes speed speeds slow slows outperform outperforms match matches beat beats cause causes
    lead leads predict predicts work works scale scales generalize generalizes transfer transfers matter matters
    agree agrees correlate correlates depend depends remain remains make makes enable enables allow allows boost
    boosts harm harms benefit benefits prevent prevents require requires yield yields achieve achieves preserve
    preserves maintain maintains save saves cut cuts compare compares differ differs exhibit exhibits show shows
    suffer suffers trade trades sacrifice sacrifices balance balances biased vulnerable robust effective better worse
    faster slower associated linked related""".split()
)
_ALT_BLOCK = frozenset("fewer less more lower higher below above so not both either neither never none".split())


@dataclass
class SubQuestion:
    """One answerable part of the question."""

    id: str
    text: str
    kind: str
    role: str = "main"  # main | side effect (a "without ..." condition: the compound's yes needs a no here) | condition
    hypothesis: str = ""  # yes/no: the statement a "yes" affirms
    facets: list[list[str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class QuestionAnalysis:
    """What `analyse` found; written to `outputs/<slug>/question.json` and shown in the report's methods."""

    question: str
    kind: str
    sub_questions: list[SubQuestion]
    facets: list[list[str]]  # the whole question's facets (keyword groups)
    background: list[str] = field(default_factory=list)  # concepts too common in the corpus to discriminate
    source: str = "derived"  # derived | params (sub-questions given in the params file)

    def to_dict(self) -> dict:
        return {"question": self.question, "kind": self.kind, "source": self.source, "focus": self.focus,
                "sub_questions": [s.to_dict() for s in self.sub_questions], "facets": self.facets,
                "background": self.background}

    @property
    def focus(self) -> str:
        """What retrieval searches for: the whole question, or, when it names conditions or side effects, its
        main sub-questions only (a rare condition would otherwise pull the search away from the topic; the
        other sub-questions get queries of their own)."""
        mains = [s.text for s in self.sub_questions if s.role == "main"]
        if not mains or len(mains) == len(self.sub_questions):
            return self.question
        return " ".join(mains)

    @classmethod
    def from_dict(cls, d: dict) -> QuestionAnalysis:
        return cls(d["question"], d["kind"], [SubQuestion(**s) for s in d["sub_questions"]], d["facets"],
                   d.get("background", []), d.get("source", "derived"))


# -- kinds ---------------------------------------------------------------------------------------------------

def question_kind(text: str) -> str:
    """`yes-no`, `comparison`, `quantitative` or `open` (see the module docstring)."""
    t = text.strip()
    if _AUX_START.match(t):
        return "yes-no"
    if _QUANT.match(t):
        return "quantitative"
    if _COMPARE.search(t) or (re.match(r"^\s*(which|what)\b", t, re.I) and _COMPARATIVE.search(t)
                              and re.search(r"\bor\b", t)):
        return "comparison"
    return "open"


def to_hypothesis(question: str) -> str:
    """'Does X improve Y?' -> 'X improve Y.' (the statement a yes answer affirms)."""
    q = question.strip().rstrip("?").strip()
    q = _AUX_START.sub("", q, count=1).strip()
    return (q[0].upper() + q[1:] + ".") if q else question


# -- splitting -----------------------------------------------------------------------------------------------

def _sentence_case(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip().rstrip("?.;, ")
    return (text[0].upper() + text[1:] + "?") if text else ""


def _subject(question: str) -> str:
    """The subject of a yes/no question: the words after the auxiliary up to the first predicate word."""
    body = _AUX_START.sub("", question.strip(), count=1).strip()
    tokens = body.split()
    for i, tok in enumerate(tokens):
        w = tok.lower().strip(",.?")
        if i > 0 and w in PREDICATE_VERBS:
            return " ".join(tokens[:i])
    return " ".join(tokens[:6])


def base_form(gerund: str) -> str:
    """'degrading' -> 'degrade', 'hurting' -> 'hurt', 'cutting' -> 'cut', 'changing' -> 'change'."""
    w = gerund.lower()
    if not w.endswith("ing") or len(w) <= 4:
        return w
    s = w[:-3]
    if s.endswith(("pl", "bl", "tl", "dl", "gl", "kl", "zl")):
        return s + "e"
    if s.endswith(("eas", "us", "ur", "ir", "ar", "aus")) and not s.endswith(("cus", "ss")):
        return s + "e"
    if len(s) >= 3 and s[-1] == s[-2] and s[-1] not in "aeiouls":
        return s[:-1]
    if s.endswith(("ng", "rg", "dg", "ls", "rs", "ns", "rc", "nc", "uc", "v", "z")) or re.search(r"[^aeiou][aeiou][bcdgklmnpstv]$", s):
        if not s.endswith(("er", "en", "on", "el", "et", "it", "ow", "cus")) or s.endswith(("rov", "iz")):
            return s + "e"
    return s


def split_joined(question: str) -> list[str]:
    """Questions joined in one sentence, each made self-contained (a pronoun takes the first one's subject)."""
    parts = [p for p in _JOIN.split(question) if p and p.strip()]
    if len(parts) < 2:
        return [_sentence_case(question)]
    first = parts[0]
    subject = _subject(first) if _AUX_START.match(first) else ""
    out = [_sentence_case(first)]
    for p in parts[1:]:
        if subject:
            p = _PRONOUN.sub(subject, p, count=1)
        out.append(_sentence_case(p))
    return out


def split_without(question: str) -> list[tuple[str, str]]:
    """'Does X improve Y without degrading Z?' -> [('Does X improve Y?', main), ('Does X degrade Z?', side effect)]."""
    m = _WITHOUT.search(question)
    if not m or not _AUX_START.match(question):
        return [(question, "main")]
    main = question[: m.start()]
    rest = question[m.end():].strip().rstrip("?")
    aux = _AUX_START.match(question).group(1)
    aux = {"is": "does", "are": "do", "was": "did", "were": "did"}.get(aux.lower(), aux.lower())
    side = f"{aux.capitalize()} {_subject(question)} {base_form(m.group(2))} {rest}"
    return [(_sentence_case(main), "main"), (_sentence_case(side), "side effect")]


def split_condition(question: str) -> list[tuple[str, str]]:
    """'What is the trade-off between A and B when applying Z to W?' -> the question about W, and one about Z."""
    m = _CONDITION.search(question)
    if not m:
        return [(question, "main")]
    head, tail = question[: m.start()], question[m.end():].strip().rstrip("?")
    where = re.search(r"\s+(to|for|on|in)\s+", tail)
    cond = tail[: where.start()] if where else tail
    if where:
        head = f"{head} for {tail[where.end():]}"
    topic = re.sub(r"^(what|which|how)\s+(is|are)\s+", "", question[: m.start()].strip(), flags=re.I)
    about = f"What is the effect of {cond} on {topic}"
    return [(_sentence_case(head), "main"), (_sentence_case(about), "condition")]


def split_alternatives(question: str) -> list[str]:
    """'Are judges biased by answer position or length?' -> '... by answer position?', '... by answer length?'.
    Only a short noun alternative at the end of a yes/no question is split ('4 bits or fewer' is not)."""
    m = re.search(r"\b(by|to|on|in|of|with|for)\s+((?:[\w-]+\s+){0,3}?)([\w-]+)\s+or\s+([\w-]+(?:\s+[\w-]+)?)\s*\??\s*$",
                  question, re.I)
    if not m or not _AUX_START.match(question):
        return [question]
    lead, left, right = m.group(2), m.group(3), m.group(4)
    if right.split()[0].lower() in _ALT_BLOCK or re.match(r"\d", right) or right.lower() in STOPWORDS:
        return [question]
    prefix = question[: m.start(2)]
    return [_sentence_case(f"{prefix}{lead}{left}"), _sentence_case(f"{prefix}{lead}{right}")]


def sub_questions(question: str) -> list[SubQuestion]:
    """The answerable parts of `question`, each with its kind (and, for yes/no, its hypothesis)."""
    parts: list[tuple[str, str]] = []
    for q in split_joined(question):
        for q2, role in split_condition(q):
            for q3, role3 in split_without(q2):
                for q4 in split_alternatives(q3):
                    parts.append((q4, role if role != "main" else role3))
    seen, out = set(), []
    for text, role in parts:
        key = text.lower()
        if key in seen:
            continue
        seen.add(key)
        kind = question_kind(text)
        out.append(SubQuestion(f"Q{len(out) + 1}", text, kind, role, to_hypothesis(text) if kind == "yes-no" else ""))
    return out


# -- facets --------------------------------------------------------------------------------------------------

TermStats = Callable[[str], float]  # a word -> share of the corpus's documents that mention it (0..1)

# Synonyms for concepts that research questions share across topics (evaluation measures, common families of
# methods); keyed by the stem of a concept word. A concept matches any of its keywords (see text.facet_hits).
SYNONYMS: dict[str, list[str]] = {
    "throughput": ["throughput", "latency", "speedup", "speed-up", "tokens per second", "tokens/s", "faster",
                   "inference speed", "decoding speed", "acceleration", "efficiency"],
    "speed": ["speed", "speedup", "speed-up", "faster", "latency", "throughput", "acceleration", "wall-clock"],
    "latency": ["latency", "throughput", "speedup", "faster", "inference speed"],
    "efficiency": ["efficiency", "efficient", "throughput", "latency", "speedup", "flops", "cost"],
    "correctness": ["correctness", "accuracy", "accurate", "pass@1", "pass@k", "pass rate", "unit tests",
                    "test cases", "quality"],
    "accuracy": ["accuracy", "accurate", "performance", "correctness", "error rate", "f1", "exact match", "quality"],
    "performance": ["performance", "accuracy", "quality", "score", "scores"],
    "quality": ["quality", "accuracy", "performance", "fidelity"],
    "memory": ["memory", "footprint", "gpu memory", "vram", "storage"],
    "cost": ["cost", "costs", "compute", "flops", "energy", "price"],
    "coding": ["coding", "code generation", "programming", "code", "program synthesis", "software engineering",
               "humaneval", "mbpp", "livecodebench", "swe-bench"],
    "code": ["code", "code generation", "programming", "coding", "program synthesis", "software engineering",
             "humaneval", "mbpp", "livecodebench", "swe-bench"],
    "programm": ["programming", "code", "coding", "program synthesis", "code generation"],
    "mathematical": ["math", "mathematical", "arithmetic", "gsm8k", "math500", "aime"],
    "math": ["math", "mathematical", "arithmetic", "gsm8k", "math500", "aime"],
    "quantiz": ["quantization", "quantized", "quantizing", "low-bit", "4-bit", "int4", "int8", "8-bit", "3-bit", "2-bit"],
    "bias": ["bias", "biased", "biases"],
    "agree": ["agreement", "agree", "correlation", "correlates", "alignment with human", "kappa"],
    "human": ["human", "humans", "annotators", "annotator", "crowd"],
    "judgement": ["judgement", "judgment", "judgements", "judgments", "ratings", "evaluations", "preferences"],
    "judgment": ["judgment", "judgement", "judgments", "judgements", "ratings", "evaluations", "preferences"],
    "experts": ["experts", "expert", "mixture-of-experts", "mixture of experts", "moe"],
    "expert": ["expert", "experts", "mixture-of-experts", "mixture of experts", "moe"],
    # a paper about images alone (image generation, segmentation) is not about a multimodal model
    "multimodal": ["multimodal", "multi-modal", "vision-language", "vision language", "vlm", "vlms", "mllm", "mllms",
                   "lvlm", "lvlms", "lmm", "lmms", "omni-modal", "cross-modal"],
    "reasoning": ["reasoning", "math", "mathematical", "logical", "gsm8k", "chain-of-thought"],
    "benchmark": ["benchmark", "benchmarks", "evaluation", "dataset", "datasets"],
    "speculative": ["speculative", "draft model", "draft tokens", "speculative decoding", "speculative sampling"],
    "robust": ["robust", "robustness", "resilient", "vulnerable", "attack", "attacks"],
    "robustness": ["robustness", "robust", "resilient", "vulnerable", "attack", "attacks"],
}
BACKGROUND_DF = 0.2  # a word in more than this share of the corpus's documents does not discriminate
FRAME = frozenset(
    """what which how why when where who does do did is are was were can could will would should has have had may
    might must there trade-off tradeoff trade-offs effect effects impact role use used using applying integrating
    between whether compared versus vs much many well extent degree level cost expense without while""".split()
)


GENERIC = frozenset(
    """models model methods method approaches approach systems system frameworks framework tasks task techniques
    technique results data benchmarks benchmark evaluation evaluations performance study studies work works
    paper papers analysis""".split()
)
_QUANTIFIER = frozenset("fewer less more lower higher below above most least few several various standard".split())


def _is_verb(w: str) -> bool:
    """A predicate verb, or its gerund ("degrading", "changing")."""
    return w in PREDICATE_VERBS or (w.endswith("ing") and base_form(w) in PREDICATE_VERBS)


def _phrases(text: str) -> list[list[str]]:
    """Runs of topical words: the candidate concepts of a question. Runs break at stop words ("per" excepted:
    "tokens per second"), framing words, quantifiers and predicate verbs (a verb that names a concept, such as
    "speed" or "biased", stays as a concept of its own); a leading gerund with an object ("quantizing large
    language models") is a concept apart from its object."""
    runs: list[list[str]] = []
    cur: list[str] = []

    def close() -> None:
        nonlocal cur
        if cur:
            if len(cur) >= 3 and cur[0].endswith("ing") and cur[0] not in PREDICATE_VERBS:
                runs.append(cur[:1])
                cur = cur[1:]
            runs.append(cur)
        cur = []

    toks = words(text)
    for i, w in enumerate(toks):
        if w == "per" and cur and i + 1 < len(toks):
            cur.append(w)
        elif w in STOPWORDS or w in FRAME or w in _QUANTIFIER or (len(w) < 2 and not w.isdigit()):
            close()
        elif _is_verb(w):
            close()
            if stem(w) in SYNONYMS or w in SYNONYMS:
                runs.append([w])
        else:
            cur.append(w)
    close()
    return [r for r in runs if r and r[-1] != "per"]


def _concept(w: str) -> bool:
    """A word that names a concept the workbench knows (it has a synonym group; for a hyphenated word, its last
    part: "mixture-of-experts")."""
    return any(stem(x) in SYNONYMS or x in SYNONYMS for x in {w, w.split("-")[-1]} if x)


def concept_keywords(phrase: list[str], df: TermStats | None = None,
                     acronym: Callable[[str], str | None] | None = None) -> tuple[list[str], bool]:
    """(keywords, is_background) for one phrase: the phrase itself, its most specific word (by corpus document
    frequency; else its last word, the head noun), the acronym the corpus uses for it, and synonyms."""
    text = " ".join(phrase)
    share = {w: (df(w) if df else 0.05) for w in phrase}
    informative = [w for w in phrase if not w.isdigit() and w != "per"] or phrase
    specific = [w for w in informative if w not in GENERIC] or informative
    anchor = min(specific, key=lambda w: (share[w], phrase.index(w))) if df else specific[0]
    head = specific[-1]  # the head noun names the concept ("functional correctness" is about correctness)
    if df and head != anchor and share[head] <= 2 * share[anchor]:
        anchor = head
    background = all(share[w] > BACKGROUND_DF for w in informative)
    if anchor == head and len(specific) > 1 and not _concept(head) \
            and any(_concept(w) for w in specific[:-1]):
        # "sparse expert routing" is routing among experts: a modifier that names a known concept says what the
        # phrase is about, and the bare head ("routing") would take in its other senses (routing between models,
        # network routing); the modifier's concept stands in for it
        anchor = next(w for w in specific[:-1] if _concept(w))
    keys = [text]
    if len(phrase) == 2 and phrase[0].isdigit():  # "4 bits" -> also "4-bit"
        keys.append(f"{phrase[0]}-{phrase[1].rstrip('s')}")
    if anchor != text:
        keys.append(anchor)
    if "-" in anchor:  # "llm-as-a-judge" -> "llm as a judge", and its specific head "judge"
        keys.append(anchor.replace("-", " "))
        head = anchor.split("-")[-1]
        if anchor.count("-") >= 2 and head not in STOPWORDS and head not in GENERIC and len(head) > 3 \
                and (df(head) if df else 0.05) < 0.05:
            keys.append(head)
    if acronym and len(phrase) > 1:
        acr = acronym(text)
        if acr and len(acr) >= 3:  # two letters ("SD", "LM") name too many other things
            keys.append(acr.lower())
    for w in ([anchor] + [x for x in informative if x != anchor and x not in GENERIC]):
        keys += SYNONYMS.get(stem(w), SYNONYMS.get(w, []))
    return list(dict.fromkeys(k for k in keys if k)), background


def merge_facets(groups: list[list[str]]) -> list[list[str]]:
    """Facets that name one concept merged: a facet whose phrase (or a variant of it) is a keyword of an earlier
    facet joins it ("tokens per second" joins "inference throughput"; "gsm8k" joins "mathematical reasoning")."""
    out: list[list[str]] = []
    for g in groups:
        target = next((o for o in out if any(k in o for k in g[:2]) or g[0] in o), None)
        if target is None:
            out.append(list(g))
        else:
            target.extend(k for k in g if k not in target)
    return out


def facets(text: str, df: TermStats | None = None,
           acronym: Callable[[str], str | None] | None = None) -> tuple[list[list[str]], list[str]]:
    """(facets, background concepts) of a question or sub-question."""
    out, background = [], []
    seen: set[str] = set()
    for phrase in _phrases(text):
        keys, is_bg = concept_keywords(phrase, df, acronym)
        if keys[0] in seen:
            continue
        seen.add(keys[0])
        (background if is_bg else out).append(keys[0] if is_bg else keys)
    return merge_facets(out), background


def analyse(question: str, given: list | None = None, df: TermStats | None = None,
            acronym: Callable[[str], str | None] | None = None) -> QuestionAnalysis:
    """The question's kind, sub-questions and facets. `given`: the params' own sub-questions (objects with
    `text`, and optionally `kind`, `role`, `facets`); what they leave out is derived."""
    if given:
        subs = []
        for i, g in enumerate(given, 1):
            text = _sentence_case(g.text)
            kind = g.kind or question_kind(text)
            subs.append(SubQuestion(f"Q{i}", text, kind, g.role, to_hypothesis(text) if kind == "yes-no" else "",
                                    [list(f) for f in g.facets]))
    else:
        subs = sub_questions(question)
    for s in subs:
        s.facets = s.facets or facets(s.text, df, acronym)[0]
    if not given and subs and subs[0].facets:
        topic = subs[0].facets[0]
        for s in subs[1:]:  # "..., and at what cost in accuracy?": the later part is about the same topic
            if len(s.facets) < 2 and topic not in s.facets:
                s.facets = [topic, *s.facets]
    whole, background = facets(question, df, acronym)
    whole = merge_facets(whole + [f for s in subs for f in s.facets])
    return QuestionAnalysis(question, question_kind(question), subs, whole, background,
                            "params" if given else "derived")
