"""Which LLM to use, if any: the params' `llm:` block over the environment over the defaults.

The model is on when the params have an `llm:` block (and it is not `enabled: false`) or when
`WORKBENCH_LLM_URL` is set. The API key is read only from `WORKBENCH_LLM_API_KEY` and is never part of the
settings, so nothing that records them (plan.json, llm_answer.json, the manifest, the cache) can hold it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError

from ..errors import ParamsError
from ..params import LLMSpec, Params

DEFAULT_PORT = 8765
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}/v1"  # where `workbench llm serve` listens
DEFAULT_MODEL = "qwen2.5-coder-1.5b-instruct"  # the alias the local server gives its model
DEFAULT_TIMEOUT = 180.0
KEY_ENV = "WORKBENCH_LLM_API_KEY"
# environment variable -> LLMSpec field
ENV_FIELDS = {"WORKBENCH_LLM_URL": "url", "WORKBENCH_LLM_MODEL": "model", "WORKBENCH_LLM_TEMPERATURE": "temperature",
              "WORKBENCH_LLM_SEED": "seed", "WORKBENCH_LLM_TIMEOUT": "timeout"}


@dataclass(frozen=True)
class LLMSettings:
    """The resolved settings of one run's LLM reader (no key: see `api_key`)."""

    url: str
    model: str
    temperature: float
    seed: int
    timeout: float
    max_papers: int
    context: int
    source: str
    plan_uses: tuple[str, ...] = ("extra_queries",)  # "params", "environment" or "params and environment"
    stance: bool = False  # the model's answer probabilities join the stance features (llm.stance)

    @property
    def endpoint(self) -> str:
        """The base URL as it may be recorded: scheme, host, port and path only."""
        parts = urlsplit(self.url)
        return urlunsplit((parts.scheme, parts.hostname + (f":{parts.port}" if parts.port else ""), parts.path, "", ""))

    def to_dict(self) -> dict:
        return {**asdict(self), "url": self.endpoint}


def api_key(env: Mapping[str, str] | None = None) -> str | None:
    """The API key from the environment only (stripped), or None."""
    value = (os.environ if env is None else env).get(KEY_ENV, "").strip()
    return value or None


def _from_env(env: Mapping[str, str]) -> dict:
    values = {field: env[name].strip() for name, field in ENV_FIELDS.items() if env.get(name, "").strip()}
    try:
        LLMSpec.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "url"
        name = next(n for n, f in ENV_FIELDS.items() if f == field)
        raise ParamsError("environment", name, err["msg"].removeprefix("Value error, ")) from None
    return values


def resolve(params: Params | None, env: Mapping[str, str] | None = None) -> LLMSettings | None:
    """The run's LLM settings, or None when the reader is off. Per field: params, then environment, then default;
    an invalid environment value is a one-line `ParamsError` naming the variable. Without params (a tool outside
    a run), the environment alone."""
    env = os.environ if env is None else env
    spec = params.llm if params is not None else None
    if spec is not None and not spec.enabled:
        return None
    if spec is None and not env.get("WORKBENCH_LLM_URL", "").strip():
        return None
    from_env = _from_env(env)
    given = spec.model_dump(exclude_none=True) if spec else {}
    merged = LLMSpec.model_validate({**from_env, **given})
    used_env = any(f not in given for f in from_env)
    source = ("params and environment" if used_env else "params") if spec is not None else "environment"
    return LLMSettings(
        url=merged.url or DEFAULT_URL, model=merged.model or DEFAULT_MODEL,
        temperature=merged.temperature if merged.temperature is not None else 0.0,
        seed=merged.seed if merged.seed is not None else (params.seed if params is not None else 0),
        timeout=merged.timeout or DEFAULT_TIMEOUT, max_papers=merged.max_papers, context=merged.context,
        source=source, plan_uses=tuple(merged.plan_uses), stance=merged.stance)
