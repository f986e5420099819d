"""The LLM client: chat completions on any OpenAI-compatible endpoint (the `openai` package), every request and
response cached on disk so that a re-run is offline and identical.

The cache key is the endpoint (scheme, host, port, path), the model, the messages and the sampling settings,
never the API key; the cache files hold the same and the response. A fault becomes an `LLMError` whose `kind`
says what went wrong: ``down`` (no connection), ``timeout``, ``context`` (the request does not fit the model's
context), ``bad_json`` (not the JSON asked for), ``refused`` (another 4xx) or ``server`` (5xx). After a
``down`` or ``timeout`` the client sends nothing more in this run: every later call fails the same way at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import config
from ..atomic import write_text
from ..errors import WorkbenchError
from ..http import redact
from .settings import LLMSettings, api_key

CHARS_PER_TOKEN = 3.2  # a cautious estimate for English (real BPE tokenizers average about 4)
FATAL = ("down", "timeout")


class LLMError(WorkbenchError):
    """An LLM request failed; `kind` says how (see the module docstring)."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind, self.message = kind, redact(message)
        super().__init__(f"{kind}: {self.message}")


@dataclass
class Usage:
    """What this client cost: requests sent, answers read from the cache, tokens and seconds."""

    requests: int = 0
    cache_hits: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {k: round(v, 2) if isinstance(v, float) else v for k, v in asdict(self).items()}


def found_down(*records: dict | None) -> LLMError | None:
    """The first fatal fault (server down, timeout) an earlier stage of the run recorded, as the error a client
    set `broken` with raises at once: a server found down is not asked again in the same run."""
    for rec in records:
        for f in (rec or {}).get("faults", []):
            if f["kind"] in FATAL:
                return LLMError(f["kind"], f["message"])
    return None


def response_format(schema: dict) -> dict:
    """JSON constrained by `schema`, in the form llama.cpp's OpenAI-compatible server takes."""
    return {"type": "json_object", "schema": schema}


def estimate_tokens(messages: list[dict]) -> int:
    """A cautious token count of the messages (a few tokens of chat template per message)."""
    return int(sum(len(m["content"]) for m in messages) / CHARS_PER_TOKEN) + 8 * len(messages)


class LLMClient:
    """One run's client. `cache_root` defaults to `WORKBENCH_LLM_CACHE_DIR`, else `<cache dir>/llm`."""

    def __init__(self, settings: LLMSettings, cache_root: Path | None = None) -> None:
        self.settings = settings
        env = os.environ.get("WORKBENCH_LLM_CACHE_DIR")
        self.cache_root = Path(cache_root or env or config.cache_dir() / "llm")
        self.usage = Usage()
        self.broken: LLMError | None = None
        self._client = None

    def _openai(self):
        if self._client is None:
            from openai import OpenAI

            self._client = OpenAI(base_url=self.settings.url, api_key=api_key() or "not-needed",
                                  timeout=self.settings.timeout, max_retries=0)
        return self._client

    def request(self, messages: list[dict], schema: dict | None, max_tokens: int) -> dict:
        """The request as cached and sent (no key)."""
        s = self.settings
        req = {"endpoint": s.endpoint, "model": s.model, "messages": messages, "temperature": s.temperature,
               "seed": s.seed, "max_tokens": max_tokens}
        if schema is not None:
            req["response_format"] = response_format(schema)
        return req

    def cache_path(self, req: dict) -> Path:
        key = hashlib.sha256(json.dumps(req, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        return self.cache_root / key[:2] / f"{key}.json"

    def chat(self, messages: list[dict], schema: dict | None = None, max_tokens: int = 400) -> str:
        """The model's reply to `messages` (from the cache when this exact request was answered before)."""
        return self._cached(self.request(messages, schema, max_tokens), messages)["content"]

    def first_token_logprobs(self, messages: list[dict], top: int = 20) -> list[tuple[str, float]]:
        """The `top` most likely first tokens of the reply with their log-probabilities (temperature and seed as
        set; one token generated). What a classifier reads from the model: P("yes") against P("no")."""
        req = {**self.request(messages, None, 1), "logprobs": True, "top_logprobs": top}
        return [(t, float(lp)) for t, lp in self._cached(req, messages)["top_logprobs"]]

    def _cached(self, req: dict, messages: list[dict]) -> dict:
        path = self.cache_path(req)
        if path.exists():
            try:
                cached = json.loads(path.read_text(encoding="utf-8"))
                self.usage.cache_hits += 1
                return cached["response"]
            except (OSError, ValueError, KeyError):
                pass  # a damaged entry is asked again and rewritten
        if self.broken is not None:
            raise self.broken
        if estimate_tokens(messages) + req["max_tokens"] > self.settings.context:
            raise LLMError("context", f"the request needs about {estimate_tokens(messages) + req['max_tokens']} "
                                      f"tokens; the model's context holds {self.settings.context}")
        response = self._send(req)
        write_text(path, json.dumps({"request": req, "response": response}, ensure_ascii=False, indent=1))
        return response

    def _send(self, req: dict) -> dict:
        """{content, usage[, top_logprobs]} of one request sent to the endpoint."""
        import openai

        kwargs = {k: v for k, v in req.items() if k not in ("endpoint",)}
        extra = {"response_format": kwargs.pop("response_format")} if "response_format" in kwargs else {}
        t0 = time.monotonic()
        self.usage.requests += 1
        try:
            resp = self._openai().chat.completions.create(**kwargs, extra_body=extra or None)
        except openai.APITimeoutError:
            self.broken = LLMError("timeout", f"no answer from {self.settings.endpoint} within "
                                              f"{self.settings.timeout:g} s")
            raise self.broken from None
        except openai.APIConnectionError as exc:
            self.broken = LLMError("down", f"cannot reach {self.settings.endpoint} ({type(exc.__cause__ or exc).__name__})")
            raise self.broken from None
        except openai.APIStatusError as exc:
            text = str(getattr(exc, "message", exc))[:300]
            if exc.status_code in (400, 413) and any(w in text.lower() for w in ("context", "too long", "exceed")):
                raise LLMError("context", f"the server says the request is too long: {text}") from None
            kind = "server" if exc.status_code >= 500 else "refused"
            raise LLMError(kind, f"HTTP {exc.status_code} from {self.settings.endpoint}: {text}") from None
        finally:
            self.usage.seconds += time.monotonic() - t0
        try:
            choice = resp.choices[0]
            content = choice.message.content or ""
        except (AttributeError, IndexError, TypeError):
            raise LLMError("bad_json", "the server's reply holds no message") from None
        u = getattr(resp, "usage", None)
        usage = {"prompt_tokens": int(getattr(u, "prompt_tokens", 0) or 0),
                 "completion_tokens": int(getattr(u, "completion_tokens", 0) or 0),
                 "finish_reason": getattr(choice, "finish_reason", None)}
        self.usage.tokens_in += usage["prompt_tokens"]
        self.usage.tokens_out += usage["completion_tokens"]
        out = {"content": content, "usage": usage}
        if req.get("logprobs"):
            try:
                first = choice.logprobs.content[0]
                out["top_logprobs"] = [[t.token, float(t.logprob)] for t in first.top_logprobs]
            except (AttributeError, IndexError, TypeError):
                raise LLMError("bad_json", "the server's reply holds no log-probabilities (does it support "
                                           "`logprobs`?)") from None
        return out

    def chat_json(self, messages: list[dict], schema: dict, max_tokens: int = 400) -> dict:
        """The reply parsed as a JSON object (`LLMError` ``bad_json`` when it is not one)."""
        text = self.chat(messages, schema, max_tokens)
        try:
            data = json.loads(text)
        except ValueError:
            raise LLMError("bad_json", f"the reply is not valid JSON ({text[:60]!r}...)") from None
        if not isinstance(data, dict):
            raise LLMError("bad_json", "the reply is JSON but not an object")
        return data

    def summary(self) -> dict:
        """What the manifest records: model, endpoint (no key), requests, cache hits, tokens, seconds."""
        return {"model": self.settings.model, "endpoint": self.settings.endpoint, **self.usage.to_dict()}
