"""The params model: one YAML file per question, validated before any notebook runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ParamsError
from .text import one_line

SECRET_KEYS = re.compile(r"(api[_-]?key|token|secret|password|mailto|email)", re.I)


def slugify(text: str, max_len: int = 60) -> str:
    """A filesystem-safe slug: lower-case words joined by hyphens, cut at a word boundary."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    slug = ""
    for w in words:
        if len(slug) + len(w) + 1 > max_len:
            break
        slug = f"{slug}-{w}" if slug else w
    return slug or "question"


class SourceSpec(BaseModel):
    """One source to search: `local:<corpus>` or an online source name, with its own record limit."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="`local:<corpus>` (e.g. local:arxiv-cs) or openalex, crossref, arxiv, semantic_scholar, pubmed")
    limit: int = Field(200, ge=1, le=2000, description="most records to take from this source")
    budget: float | None = Field(
        None, gt=0, le=3600,
        description="seconds this online source may spend on its searches (overrides source_budget; "
                    "ignored for local corpora)",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not re.fullmatch(r"(local:[A-Za-z0-9_.\-]+|[a-z_]+)", v):
            raise ValueError(f"'{v}' is not a source name (use local:<corpus> or an online source)")
        return v


class Criteria(BaseModel):
    """Screening criteria: keywords a paper must (any of) / must not contain."""

    model_config = ConfigDict(extra="forbid")
    include_any: list[list[str]] = Field(
        default_factory=list,
        description="groups of keywords; a paper must match at least one keyword of EVERY group (title or abstract)",
    )
    exclude_any: list[str] = Field(default_factory=list, description="a paper matching any of these is excluded")
    min_relevance: float = Field(0.35, ge=0, le=1, description="relevance threshold (0-1) below which a paper is excluded")
    exclude_surveys: bool = Field(True, description="exclude surveys and reviews (secondary sources)")


class SubQuestionSpec(BaseModel):
    """One part of a compound question, answered on its own. Only `text` is needed; the rest is derived."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=8, description="the sub-question, as a full question")
    kind: Literal["yes-no", "comparison", "quantitative", "open"] | None = Field(
        None, description="yes-no | comparison | quantitative | open; derived from the text when absent")
    role: Literal["main", "side effect", "condition"] = Field(
        "main", description="main: screening needs its facets; side effect: a 'without ...' part whose 'no' the main "
                            "answer needs; condition: a setting the question names, reported but not required")
    facets: list[list[str]] = Field(
        default_factory=list, description="keyword groups a paper must all match to address it; derived when empty")


class LLMSpec(BaseModel):
    """The optional LLM reader on an OpenAI-compatible endpoint. Any field left out comes from the environment
    (WORKBENCH_LLM_URL, WORKBENCH_LLM_MODEL, ...), else its default; the API key comes only from the environment
    (WORKBENCH_LLM_API_KEY)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, description="false turns the LLM reader off even when WORKBENCH_LLM_URL is set")
    url: str | None = Field(None, description="OpenAI-compatible base URL, e.g. http://127.0.0.1:8765/v1 "
                                              "(default: WORKBENCH_LLM_URL, else the `workbench llm serve` address)")
    model: str | None = Field(None, description="model name sent to the endpoint (default: WORKBENCH_LLM_MODEL, "
                                                "else the local Qwen2.5-Coder-1.5B-Instruct)")
    temperature: float | None = Field(None, ge=0, le=2, description="sampling temperature (default 0)")
    seed: int | None = Field(None, description="sampling seed sent with every request (default: the params' seed)")
    timeout: float | None = Field(None, gt=0, le=3600, description="seconds one request may take (default 180)")
    max_papers: int = Field(8, ge=1, le=30, description="most included papers the model reads (most relevant first)")
    plan_uses: list[Literal["sub_questions", "criteria", "extra_queries"]] = Field(
        default_factory=lambda: ["extra_queries"],
        description="which parts of the model's plan feed retrieval where the params give none of their own; by "
                    "default only its extra queries: with the 1.5B local model, its sub-questions and criteria made "
                    "the included papers less on-topic (docs/benchmarks.md)")
    context: int = Field(4096, ge=512, le=1_000_000, description="tokens the model's context holds; a longer "
                                                                 "request is not sent")
    stance: bool = Field(False, description="also read each addressing paper's yes/no stance with the model (a "
                                            "head fitted on PubMedQA). Off by default: on arXiv abstracts the local "
                                            "model answers 'no' where a paper does not test the question "
                                            "(models/stance/MODEL_CARD.md)")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = v.strip()
        if not re.fullmatch(r"https?://[^\s/@]+(/[^\s?#]*)?", v):
            raise ValueError(f"'{v}' is not an http(s) base URL without credentials or query")
        return v.rstrip("/")


class Params(BaseModel):
    """Everything one question's run needs. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=10, description="the research question, in full")
    slug: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9\-]{0,79}$", description="output folder name; derived from the question when absent")
    title: str | None = Field(None, description="report title; derived from the question when absent")
    sources: list[SourceSpec] = Field(
        default_factory=lambda: [SourceSpec(name="local:arxiv-cs")], min_length=1, description="where to search"
    )
    year_from: int | None = Field(None, ge=1900, le=2100, description="earliest publication year")
    year_to: int | None = Field(None, ge=1900, le=2100, description="latest publication year")
    sub_questions: list[SubQuestionSpec] = Field(
        default_factory=list, description="the question's parts, answered one by one; derived from the question when empty")
    criteria: Criteria = Field(
        default_factory=Criteria,
        description="what a paper must mention to be included; with include_any empty, every facet of at least one "
                    "main sub-question")
    extra_terms: list[str] = Field(default_factory=list, description="terms added to the main search query")
    extra_queries: list[str] = Field(default_factory=list, description=(
        "further search queries, each run on its own: what they find beyond the question's own records is added "
        "(up to half the local source's limit more), never displacing them"))
    source_budget: float | None = Field(
        None, gt=0, le=3600,
        description="seconds each online source may spend on its searches; when spent, the source stops, keeps "
                    "what it fetched and is reported partial (default: WORKBENCH_SOURCE_BUDGET, else 60)",
    )
    candidates: int = Field(200, ge=10, le=5000, description="records retrieved per query before screening")
    max_papers: int = Field(15, ge=1, le=200, description="most papers to include")
    min_papers: int = Field(5, ge=1, le=100, description="fewer relevant papers than this -> the report says evidence is insufficient")
    claims_per_paper: int = Field(2, ge=1, le=10, description="most claims extracted from one paper")
    min_stance_papers: int = Field(3, ge=1, le=100, description="a yes/no sub-question gets a verdict only when at least this many included papers take a stance")
    stance_threshold: float = Field(0.6, gt=0, lt=1, description="a paper takes a stance only at this calibrated confidence; below it, its stance is 'unclear'")
    support_threshold: float = Field(0.6, gt=0, lt=1, description="a claim is called supported only above this confidence")
    retrieval_method: str = Field("default", description="bm25, dense, hybrid, ... or default")
    seed: int = Field(13, description="random seed for anything stochastic")
    llm: LLMSpec | None = Field(None, description="the optional LLM reader (a bare `llm:` turns it on with the "
                                                  "environment's or default settings); off when absent and "
                                                  "WORKBENCH_LLM_URL is unset")

    @field_validator("sub_questions", mode="before")
    @classmethod
    def _sub_questions(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"text": s} if isinstance(s, str) else s for s in v]
        return v

    @field_validator("question", "title", mode="before")
    @classmethod
    def _one_line(cls, v: Any) -> Any:
        return one_line(v) if isinstance(v, str) else v  # they title the report and the notebook pages

    @field_validator("sources", mode="before")
    @classmethod
    def _sources(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"name": s} if isinstance(s, str) else s for s in v]
        return v

    @model_validator(mode="after")
    def _check(self) -> Params:
        if self.year_from and self.year_to and self.year_from > self.year_to:
            raise ValueError("year_from: year range is inverted (year_from > year_to)")
        if self.min_papers > self.max_papers:
            raise ValueError("min_papers: larger than max_papers")
        if not self.slug:
            self.slug = slugify(self.question)
        if not self.title:
            self.title = self.question.rstrip("?").strip()
        return self

    @property
    def year_range(self) -> tuple[int | None, int | None]:
        return (self.year_from, self.year_to)


def _scan_for_secrets(data: Any, path: str, trail: str = "") -> None:
    if isinstance(data, dict):
        for k, v in data.items():
            where = f"{trail}.{k}" if trail else str(k)
            if SECRET_KEYS.search(str(k)):
                raise ParamsError(path, where, "secrets do not belong in params; set them in the environment")
            _scan_for_secrets(v, path, where)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            _scan_for_secrets(v, path, f"{trail}[{i}]")


def parse_params(data: Any, path: str = "<params>") -> Params:
    """Validate a params mapping; the first error becomes a one-line ParamsError naming the field."""
    if not isinstance(data, dict):
        raise ParamsError(path, "<root>", "expected a mapping of keys to values")
    _scan_for_secrets(data, path)
    if "llm" in data and data["llm"] is None:  # a bare `llm:` block: on, with every setting from elsewhere
        data = {**data, "llm": {}}
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required field missing"
        elif msg.startswith("Value error, "):
            msg = msg.removeprefix("Value error, ")
            if ": " in msg and loc == "<root>":
                loc, msg = msg.split(": ", 1)
        raise ParamsError(path, loc, msg) from None


def default_params_file() -> Path:
    """The params file notebooks use when run without parameters (`WORKBENCH_PARAMS`, else the example)."""
    import os

    from .config import REPO_ROOT

    return Path(os.environ.get("WORKBENCH_PARAMS") or REPO_ROOT / "params" / "example.yaml")


def load_params(path: str | Path) -> Params:
    """Read and validate a params YAML file."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(str(path), "<file>", "file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "<yaml>"
        raise ParamsError(str(path), where, f"not valid YAML ({getattr(exc, 'problem', exc)})") from None
    return parse_params(data, str(path))


def _yaml_value(value: Any) -> str:
    """One value in YAML flow style on one line (strings quoted only when YAML needs it)."""
    return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000).strip().removesuffix("...").strip()


def params_yaml(values: dict[str, Any], header: str = "") -> str:
    """A params file with a comment on each field (the field's description in the model), ready to edit.

    `values` holds the fields to write: top-level keys, `criteria` as a mapping, `sub_questions` as a list of
    mappings. The text is validated by `parse_params` before it is returned, so it always loads."""
    fields, crit_fields = Params.model_fields, Criteria.model_fields
    lines = [f"# {line}" for line in header.splitlines()] if header else []
    for key, value in values.items():
        lines.append(f"# {fields[key].description}")
        if key == "criteria":
            lines.append("criteria:")
            for ck, cv in value.items():
                lines.append(f"  # {crit_fields[ck].description}")
                if isinstance(cv, list) and cv:
                    lines.append(f"  {ck}:")
                    lines += [f"    - {_yaml_value(g)}" for g in cv]
                else:
                    lines.append(f"  {ck}: {_yaml_value(cv)}")
        elif key == "sub_questions":
            lines += [f"#   {k}: {f.description}" for k, f in SubQuestionSpec.model_fields.items()]
            lines.append("sub_questions:")
            for sq in value:
                first = True
                for sk, sv in sq.items():
                    lines.append(f"  {'- ' if first else '  '}{sk}: {_yaml_value(sv) if not isinstance(sv, list) or not sv else ''}".rstrip())
                    if isinstance(sv, list) and sv:
                        lines += [f"      - {_yaml_value(g)}" for g in sv]
                    first = False
        elif isinstance(value, list) and value:
            lines.append(f"{key}:")
            lines += [f"  - {_yaml_value(v)}" for v in value]
        else:
            lines.append(f"{key}: {_yaml_value(value)}")
    text = "\n".join(lines) + "\n"
    parse_params(yaml.safe_load(text), "<generated params>")
    return text


def suggested_yaml(params: Params, analysis) -> str:
    """The params file a person can start from: the question, its sources, the derived sub-questions with their
    facets, and criteria (a single main sub-question's facets become include_any; several stay per sub-question)."""
    mains = [s for s in analysis.sub_questions if s.role == "main"]
    values: dict[str, Any] = {
        "question": params.question, "slug": params.slug,
        "sources": [s.name if s.limit == 200 else {"name": s.name, "limit": s.limit} for s in params.sources],
        "sub_questions": [{"text": s.text, "kind": s.kind, "role": s.role, "facets": s.facets}
                          for s in analysis.sub_questions],
        "criteria": {"include_any": (mains[0].facets if len(mains) == 1 and not params.criteria.include_any
                                     else params.criteria.include_any),
                     "exclude_any": params.criteria.exclude_any, "min_relevance": params.criteria.min_relevance,
                     "exclude_surveys": params.criteria.exclude_surveys},
        "max_papers": params.max_papers, "min_papers": params.min_papers,
        "claims_per_paper": params.claims_per_paper, "min_stance_papers": params.min_stance_papers,
    }
    if params.year_from:
        values["year_from"] = params.year_from
    if params.year_to:
        values["year_to"] = params.year_to
    return params_yaml(values, header="Edit freely: every key is checked before a run (`workbench run` this file).")
