"""A paper's stance read with the LLM as well: the model's first-token log-probabilities of "yes", "no" and "maybe"
after the question and the abstract join the verifier's stance features, and a logistic head fitted here on
PubMedQA-L reads all of them (`models/stance/stance-llm.json`; `python -m training.stance.llm_features`, then
`python -m training.stance.fit --llm-features`).

It is used when the LLM reader is on with `llm.stance: true` and the head was fitted for the configured model (its
`meta.llm_model`); otherwise, and for a paper the endpoint fails on, the verifier's own head
(`helpers.verification.stance`) reads the stance and `llm_stance.json` says why. It is off by default: on arXiv
abstracts the local 1.5B model answers "no" for papers that do not test the question at all (PubMedQA, where it
was fitted, has only papers that do), which would turn "no verdict" into a false "no". The model is asked for one token only; its reply is never parsed, so it cannot put words in the
report: the head turns three probabilities into a calibrated stance, as for the verifier's features.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import config
from ..atomic import write_text
from ..outputs import load_json
from ..params import Params
from ..records import Paper
from ..text import one_line, paper_sentences
from ..verification.stance import ANSWERS, FEATURES, READING, Stance, StanceHead, StanceModel
from .client import FATAL, LLMClient, LLMError, found_down
from .settings import LLMSettings, resolve

SYSTEM = "You are an expert researcher. Answer the question from the evidence in the abstract."
USER = ("Abstract:\n{abstract}\n\nQuestion: {question}\n\n"
        "Based on the abstract's results, is the answer yes, no, or maybe? Reply with one word: yes, no, or maybe.")
TOP = 20  # first-token candidates read
FLOOR = 1.0  # an answer outside the top candidates gets the least likely one's log-probability minus this
LLM_FEATURES = ("llm log P(no) - log P(yes)", "llm log P(maybe) - log P(yes)")
ABSTRACT_CHARS = 6000  # about 1,500 tokens: PubMedQA contexts and arXiv abstracts fit whole


def messages(question: str, sentences: Sequence[str]) -> list[dict]:
    """The stance prompt for one (question, abstract)."""
    abstract = one_line(" ".join(sentences))[:ABSTRACT_CHARS]
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": USER.format(abstract=abstract, question=one_line(question))}]


def answer_logprobs(top: Sequence[tuple[str, float]]) -> dict[str, float]:
    """log P(yes / no / maybe) from the first token's top candidates: the spellings of an answer ("Yes", " yes")
    are summed; an answer not among them gets the least likely candidate's log-probability minus `FLOOR`."""
    floor = (min(lp for _, lp in top) if top else -30.0) - FLOOR
    out = {}
    for a in ANSWERS:
        lps = [lp for tok, lp in top if tok.strip().lower() == a]
        out[a] = float(np.logaddexp.reduce(lps)) if lps else floor
    return out


def llm_features(lp: dict[str, float]) -> list[float]:
    """`LLM_FEATURES` from the answers' log-probabilities."""
    return [lp["no"] - lp["yes"], lp["maybe"] - lp["yes"]]


def head_path() -> Path:
    return config.models_dir() / "stance" / "stance-llm.json"


class LLMStanceModel:
    """The verifier's stance features plus the LLM's answer probabilities, through the head fitted on both.

    A paper the LLM could not read is read by the verifier's head alone, and `faults` says why; after the server
    was down or timed out, the client asks nothing more (every later paper falls back at once)."""

    def __init__(self, client: LLMClient, base: StanceModel, head: StanceHead) -> None:
        self.client, self.base, self.head = client, base, head
        self.name = f"stance-verifier+llm-lr ({client.settings.model})"
        self.faults: list[dict] = []
        self.read_by_llm = 0
        self.base_probs: np.ndarray | None = None

    def _read(self, items: list[tuple[str, Sequence[str]]]) -> list[tuple[np.ndarray, str]]:
        """(P(yes, no, maybe), the method that read it) for each (question, abstract sentences)."""
        if not items:
            return []
        out = []
        X = self.base.feature_rows(items)
        self.base_probs = self.base.head.probabilities(X)  # the verifier's head alone, for comparison
        for (question, sents), x in zip(items, X, strict=True):
            try:
                lp = answer_logprobs(self.client.first_token_logprobs(messages(question, sents), TOP))
                out.append((self.head.probabilities(np.concatenate([x, llm_features(lp)]))[0], self.name))
                self.read_by_llm += 1
                continue
            except LLMError as exc:
                if not any(f["kind"] in FATAL for f in self.faults):  # a dead server is one fault, not one per paper
                    self.faults.append({"stage": "stance", "kind": exc.kind, "message": exc.message})
            out.append((self.base.head.probabilities(x)[0], self.base.name))
        return out

    def answer(self, items: list[tuple[str, Sequence[str]]]) -> list[tuple[str, float, np.ndarray]]:
        """PubMedQA's task: yes / no / maybe for each (question, abstract sentences), with its probability."""
        return [(ANSWERS[int(np.argmax(p))], float(p.max()), p) for p, _ in self._read(items)]

    def stances(self, question: str, papers: list[Paper]) -> list[Stance]:
        """Each paper's stance on `question` (yes / no / mixed)."""
        out = []
        for p, method in self._read([(question, paper_sentences(pp)) for pp in papers]):
            label = ANSWERS[int(np.argmax(p))]
            out.append(Stance(READING[label], float(p.max()), dict(zip(ANSWERS, map(float, p), strict=True)), method))
        return out


def load_head(model: str, path: Path | None = None) -> StanceHead | None:
    """The LLM stance head when there is one fitted for `model`, else None."""
    path = Path(path or head_path())
    if not path.exists():
        return None
    head = StanceHead.load(path, FEATURES + LLM_FEATURES)
    return head if head.meta.get("llm_model") == model else None


def stance_model(settings: LLMSettings | None, verifier, path: Path | None = None) -> tuple[LLMStanceModel | None, str]:
    """(the LLM stance model, or None, and a line saying which stance model reads and why) for a run whose LLM
    settings are `settings` (None: the LLM is off)."""
    if settings is None:
        return None, "the verifier's stance head (the LLM reader is off)"
    if not settings.stance:
        return None, "the verifier's stance head (llm.stance is off)"
    head = load_head(settings.model, path)
    if head is None:
        return None, (f"the verifier's stance head: no stance head is fitted for the LLM {settings.model!r} "
                      "(training/stance/llm_features.py, then training/stance/fit.py --llm-features)")
    model = LLMStanceModel(LLMClient(settings), StanceModel(verifier=verifier), head)
    return model, f"the verifier's stance features with {settings.model}'s answer probabilities, through one fitted head"


def for_run(params: Params, out_dir: Path, verifier) -> tuple[LLMStanceModel | None, str]:
    """The stance model of a run: the LLM one when the reader is on, `llm.stance` is true and a head is fitted for
    its model. A server the plan already found down is not asked again."""
    model, note = stance_model(resolve(params), verifier)
    if model is not None:
        model.client.broken = found_down(load_json(Path(out_dir), "plan.json"))
    return model, note


def record(out_dir: Path, params: Params, model: LLMStanceModel | None, note: str) -> dict | None:
    """Write llm_stance.json (only when the LLM reader is on): which head read the stances, how many papers the
    model read, its faults and usage. Returned as written."""
    settings = resolve(params)
    path = Path(out_dir) / "llm_stance.json"
    if settings is None:
        path.unlink(missing_ok=True)
        return None
    rec = {"model": settings.model, "settings": settings.to_dict(), "reader": note,
           "papers_read": model.read_by_llm if model else 0, "faults": [], "usage": None}
    if model is not None:
        rec["usage"], rec["faults"] = model.client.summary(), list(model.faults)
    write_text(path, json.dumps(rec, indent=1, ensure_ascii=False))
    return rec
