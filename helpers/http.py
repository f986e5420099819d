"""HTTP for the online sources: timeouts, retries with back-off, a cross-process rate limit, an on-disk cache.

One `HttpClient` per process (`get_client()`) serves every source:

* every request has a short connect timeout and a longer read timeout;
* 429, 5xx, timeouts, connection errors and unparseable bodies (truncated JSON, an HTML error page) are
  retried with exponential back-off and full jitter (tenacity); a `Retry-After` header is honoured, capped;
* a caller may pass a deadline (a source's time budget): no attempt starts, no back-off or Retry-After sleep
  runs and no timeout or rate-limit wait reaches past it;
* a rate limit per source is shared across processes (pyrate-limiter, SQLite bucket under the cache dir),
  because papermill runs each notebook in its own process;
* a response is cached (requests-cache, SQLite under ``cache_dir()/http``, WAL mode so that many processes share
  it) only after it parsed, so a re-run is reproducible and works offline; secret parameters (API keys, contact e-mail) are left out of cache keys
  and redacted from the stored requests;
* a fault that survives the retries becomes a one-line `SourceError` whose text never carries a secret and
  whose `kind` says whether the host looked down (timeouts, connection errors, 408/5xx), throttled, ...

Knobs (environment): ``WORKBENCH_HTTP_TIMEOUT`` (read timeout, s, default 30),
``WORKBENCH_HTTP_CONNECT_TIMEOUT`` (s, default 5, at most the read timeout), ``WORKBENCH_HTTP_RETRIES`` (extra attempts,
default 4), ``WORKBENCH_HTTP_BACKOFF`` (base delay s, default 1), ``WORKBENCH_HTTP_BACKOFF_MAX`` (s, default 30),
``WORKBENCH_HTTP_RETRY_AFTER_MAX`` (cap on Retry-After, s, default 60), ``WORKBENCH_HTTP_CACHE``
(``on`` | ``off`` | ``refresh`` | ``offline``), ``WORKBENCH_HTTP_CACHE_DAYS`` (expiry; default never),
``WORKBENCH_<SOURCE>_RATE`` (requests per second, or ``N/SECONDS``), ``WORKBENCH_SOURCE_BUDGET`` (s each
online source may spend on one search, default 60; ``0`` for none; read here, spent in `sources.web`).
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import requests
import requests_cache
from pyrate_limiter import Duration, Limiter, Rate, SQLiteBucket
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.stop import stop_base

from .config import cache_dir
from .errors import SourceError
from .locks import build_lock

log = logging.getLogger(__name__)

T = TypeVar("T")

USER_AGENT = "evidence-workbench/0.1 (+https://github.com/; systematic-review workbench)"

# Environment variables that hold secrets; their values are redacted from every message and cache key.
SECRET_ENV = ("WORKBENCH_CONTACT_EMAIL", "WORKBENCH_S2_API_KEY", "WORKBENCH_NCBI_API_KEY", "WORKBENCH_LLM_API_KEY")
# Request parameters/headers that carry secrets: never part of a cache key, redacted in the cache.
SECRET_PARAMS = (
    "api_key",
    "apikey",
    "api-key",
    "x-api-key",
    "mailto",
    "email",
    "key",
    "token",
    "Authorization",
)

# Default polite rates per source: (requests, per seconds).
DEFAULT_RATES: dict[str, tuple[int, float]] = {
    "openalex": (10, 1),
    "crossref": (10, 1),
    "arxiv": (1, 3),  # arXiv asks for one request every three seconds
    "semantic_scholar": (1, 1),  # the keyed limit; unkeyed traffic shares a pool, so stay slow
    "pubmed": (3, 1),  # 10/s with an API key
}
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
THROTTLE_STATUS = frozenset({425, 429})  # "slow down", not "down": these never open a source's circuit
DEFAULT_SOURCE_BUDGET = 60.0


def env_secret(name: str) -> str | None:
    """A secret from the environment (stripped), or None."""
    value = os.environ.get(name, "").strip()
    return value or None


def redact(text: str) -> str:
    """`text` with every secret value from the environment replaced by ``***``."""
    for name in SECRET_ENV:
        value = env_secret(name)
        if value:
            text = text.replace(value, "***")
            text = text.replace(requests.utils.quote(value, safe=""), "***")
    return text


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def _parse_rate(text: str | None, default: tuple[int, float]) -> tuple[int, float]:
    if not text:
        return default
    try:
        if "/" in text:
            n, per = text.split("/", 1)
            return max(1, int(float(n))), float(per)
        per_second = float(text)
        if per_second >= 1:
            return int(per_second), 1.0
        return 1, 1.0 / per_second
    except (ValueError, ZeroDivisionError):
        return default


class RedactingFilter(logging.Filter):
    """Rewrites a log record with the secret values replaced (urllib3 logs full URLs at DEBUG level)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if any(env_secret(n) for n in SECRET_ENV):
            record.msg, record.args = redact(record.getMessage()), None
        return True


_REDACTING = RedactingFilter()
for _name in ("urllib3.connectionpool", "requests_cache", __name__):
    if _REDACTING not in logging.getLogger(_name).filters:
        logging.getLogger(_name).addFilter(_REDACTING)


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts, retries, back-off, cache behaviour, rates and the sources' time budget; `from_env()` reads the
    WORKBENCH_HTTP_*, WORKBENCH_<SOURCE>_RATE and WORKBENCH_SOURCE_BUDGET knobs."""

    timeout: float = 30.0  # read timeout: the longest wait for the server's next bytes
    connect_timeout: float = 5.0  # TCP/TLS connect (two SYN retransmissions fit in 5 s)
    retries: int = 4
    backoff: float = 1.0
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    cache: str = "on"  # on | off | refresh | offline
    cache_days: float | None = None
    rates: tuple[tuple[str, int, float], ...] = field(default_factory=tuple)
    source_budget: float | None = DEFAULT_SOURCE_BUDGET  # s per online source and search; None: no budget

    @classmethod
    def from_env(cls) -> HttpSettings:
        timeout = _env_float("WORKBENCH_HTTP_TIMEOUT", 30.0)
        days = os.environ.get("WORKBENCH_HTTP_CACHE_DAYS")
        rates = tuple(
            (name, *_parse_rate(os.environ.get(f"WORKBENCH_{name.upper()}_RATE"), default))
            for name, default in DEFAULT_RATES.items()
        )
        cache = os.environ.get("WORKBENCH_HTTP_CACHE", "on").strip().lower() or "on"
        if cache not in {"on", "off", "refresh", "offline"}:
            cache = "on"
        budget = _env_float("WORKBENCH_SOURCE_BUDGET", DEFAULT_SOURCE_BUDGET)
        return cls(
            timeout=timeout,
            connect_timeout=min(_env_float("WORKBENCH_HTTP_CONNECT_TIMEOUT", 5.0), timeout),
            retries=max(0, int(_env_float("WORKBENCH_HTTP_RETRIES", 4))),
            backoff=_env_float("WORKBENCH_HTTP_BACKOFF", 1.0),
            backoff_max=_env_float("WORKBENCH_HTTP_BACKOFF_MAX", 30.0),
            retry_after_max=_env_float("WORKBENCH_HTTP_RETRY_AFTER_MAX", 60.0),
            cache=cache,
            cache_days=float(days) if days else None,
            rates=rates,
            source_budget=budget if budget > 0 else None,
        )

    def rate(self, source: str) -> tuple[int, float]:
        for name, n, per in self.rates:
            if name == source:
                return n, per
        return DEFAULT_RATES.get(source, (5, 1))


class RetryableError(Exception):
    """A fault worth retrying (429, 5xx, timeout, connection error, unparseable body); `kind` as in
    `SourceError` (``down``, ``throttled``, ``bad_body``)."""

    def __init__(self, message: str, retry_after: float | None = None, kind: str = "down") -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.kind = kind


class FatalHttpError(Exception):
    """A fault that retrying will not fix (most 4xx)."""


class OutOfTime(Exception):
    """The caller's deadline came before the next attempt could start."""


class stop_at_deadline(stop_base):
    """Stop retrying when the next sleep would end at or past `deadline` (monotonic seconds; None: never)."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        if self.deadline is None:
            return False
        return time.monotonic() + (retry_state.upcoming_sleep or 0.0) >= self.deadline


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _secs(x: float) -> str:
    return f"{round(x, 1):g}"


def _attempts(n: int) -> str:
    return f"{n} attempt{'s' if n != 1 else ''}"


def backoff_wait(settings: HttpSettings, attempt: int, retry_after: float | None) -> float:
    """Seconds to sleep before retry number `attempt` (1-based).

    Retry-After, when given, is honoured up to `retry_after_max`; otherwise exponential back-off with full
    jitter: uniform(0, min(backoff_max, backoff * 2**(attempt-1))).
    """
    if retry_after is not None:
        return min(retry_after, settings.retry_after_max)
    ceiling = min(settings.backoff_max, settings.backoff * (2 ** (attempt - 1)))
    return random.uniform(0, ceiling)


class HttpClient:
    """Shared HTTP machinery for every online source (see the module docstring)."""

    def __init__(self, settings: HttpSettings | None = None, root: Path | None = None) -> None:
        self.settings = settings or HttpSettings.from_env()
        self.root = Path(root) if root else cache_dir() / "http"
        self.root.mkdir(parents=True, exist_ok=True)
        # CachedSession only for its cache (keys, redaction, storage); network calls go through `self.net`
        # so that a body is stored only after it parsed.
        db = self.root / "responses.sqlite"
        # opening switches the file to WAL, which needs it alone: two processes opening a new cache at once got
        # "database is locked" (seen in CI); the switch is made one process at a time, and is kept in the file
        with build_lock(db, timeout=60):
            self._cached = requests_cache.CachedSession(
                str(db),
                backend="sqlite",
                ignored_parameters=list(SECRET_PARAMS),
                match_headers=False,
                allowable_codes=(200,),
                # several processes (notebook kernels, batch workers) share this file: WAL lets readers go on
                # while one writes, and a writer waits up to 30 s for another's write instead of failing at once
                wal=True,
                busy_timeout=30_000,
            )
        self.cache = self._cached.cache
        self.net = requests.Session()
        self.net.headers["User-Agent"] = USER_AGENT
        self._limiters: dict[str, Limiter] = {}
        self._lock = threading.Lock()
        self.network_calls = 0  # real requests sent by this client (for provenance and tests)
        self.sent: Counter[str] = Counter()  # the same, per source

    # -- rate limit -------------------------------------------------------------------------------------
    def _limiter(self, source: str) -> Limiter:
        with self._lock:
            if source not in self._limiters:
                n, per = self.settings.rate(source)
                rate = Rate(n, int(per * Duration.SECOND))
                bucket = SQLiteBucket.init_from_file(
                    [rate],
                    table=f"rate_{source}",
                    db_path=str(self.root / "ratelimit.sqlite"),
                    use_file_lock=True,
                )
                self._limiters[source] = Limiter(bucket)
            return self._limiters[source]

    def _acquire(self, source: str, deadline: float | None = None) -> None:
        n, per = self.settings.rate(source)
        wait_limit = max(60.0, 4 * per)
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise OutOfTime
        if not self._limiter(source).try_acquire(source, blocking=True, timeout=min(wait_limit, left or wait_limit)):
            if left is not None and left <= wait_limit:
                raise OutOfTime
            raise RetryableError(f"rate limiter gave no slot within {_secs(wait_limit)} s", kind="throttled")

    def cache_key(self, url: str, params: Mapping[str, Any]) -> str:
        """The cache key of a GET: URL and parameters with the secret ones left out altogether (so adding,
        changing or removing a key or e-mail still hits the same cache entry)."""
        secret = {p.lower() for p in SECRET_PARAMS}
        public = {k: v for k, v in params.items() if k.lower() not in secret}
        return self.cache.create_key(self.net.prepare_request(requests.Request("GET", url, params=public)))

    # -- one request ------------------------------------------------------------------------------------
    def get(
        self,
        source: str,
        url: str,
        params: Mapping[str, Any] | None = None,
        parse: Callable[[bytes], T] = lambda b: b,  # type: ignore[assignment,return-value]
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> T:
        """GET `url` and return `parse(body)`; cached, rate-limited and retried. Raises `SourceError`.

        `deadline` (a `time.monotonic()` value): no attempt starts after it, and no sleep or wait reaches past it;
        a `SourceError` raised because of it has ``out_of_time`` set (its message names the last fault, if any).
        """
        s = self.settings
        params, headers = dict(params or {}), dict(headers or {})
        prepared = self.net.prepare_request(requests.Request("GET", url, params=params, headers=headers))
        key = self.cache_key(url, params)
        if s.cache in {"on", "offline"}:
            cached = self.cache.get_response(key)
            if cached is not None and not cached.is_expired:
                try:
                    return parse(cached.content)
                except Exception:  # a bad body slipped into the cache: forget it and fetch again
                    self.cache.delete(key)
            if s.cache == "offline":
                raise SourceError(source, "not in the HTTP cache and WORKBENCH_HTTP_CACHE=offline", "offline")

        attempts: list[RetryableError | None] = []  # one entry per attempt: its fault, None if it worked

        def attempt_once() -> T:
            attempts.append(None)
            self._acquire(source, deadline)
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise OutOfTime
            connect, read = (s.connect_timeout, s.timeout) if left is None else (
                min(s.connect_timeout, left), min(s.timeout, left))
            with self._lock:
                self.network_calls += 1
                self.sent[source] += 1
            try:
                # proxies and CA bundle from the environment, as Session.request would apply them
                env = self.net.merge_environment_settings(prepared.url, {}, None, None, None)
                resp = self.net.send(prepared, timeout=(connect, read), **env)
            except requests.ConnectTimeout as exc:  # before Timeout: it is both a Timeout and a ConnectionError
                raise fault(RetryableError(f"connect timed out after {_secs(connect)} s")) from exc
            except requests.Timeout as exc:
                raise fault(RetryableError(f"timed out after {_secs(read)} s")) from exc
            except requests.RequestException as exc:  # connection refused/reset, truncated transfer, ...
                raise fault(RetryableError(f"connection error ({type(exc).__name__})")) from exc
            if resp.status_code in RETRY_STATUS or resp.status_code >= 500:
                kind = "throttled" if resp.status_code in THROTTLE_STATUS else "down"
                raise fault(RetryableError(
                    f"HTTP {resp.status_code}", parse_retry_after(resp.headers.get("Retry-After")), kind
                ))
            if resp.status_code != 200:
                raise FatalHttpError(f"HTTP {resp.status_code}")
            try:
                parsed = parse(resp.content)
            except Exception as exc:
                ctype = resp.headers.get("Content-Type", "?").split(";")[0]
                raise fault(RetryableError(
                    f"unparseable response body ({ctype}, {len(resp.content)} bytes: {type(exc).__name__})",
                    kind="bad_body",
                )) from exc
            if s.cache != "off":
                expires = datetime.now(UTC) + timedelta(days=s.cache_days) if s.cache_days else None
                self.cache.save_response(resp, cache_key=key, expires=expires)
            return parsed

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.info(
                "%s: %s; retry %d in %.2f s",
                source,
                exc,
                state.attempt_number,
                state.next_action.sleep if state.next_action else 0.0,
            )

        def fault(exc: RetryableError) -> RetryableError:
            attempts[-1] = exc
            return exc

        retrying = Retrying(
            stop=stop_after_attempt(s.retries + 1) | stop_at_deadline(deadline),
            wait=lambda st: backoff_wait(
                s, st.attempt_number, getattr(st.outcome.exception(), "retry_after", None)
            ),
            retry=retry_if_exception_type(RetryableError),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(attempt_once)
        except RetryableError as exc:  # every attempt failed, or the deadline left no room for another
            n = len(attempts)
            early = n < s.retries + 1
            raise SourceError(source, redact(f"{exc.message} after {_attempts(n)}"), exc.kind, n, early) from None
        except OutOfTime:  # the deadline came before the next attempt could be sent
            n = len(attempts) - 1
            last = attempts[-2] if n else None
            text = f"{last.message} after {_attempts(n)}" if last else "deadline reached before the request was sent"
            raise SourceError(source, redact(text), last.kind if last else "budget", n, out_of_time=True) from None
        except FatalHttpError as exc:
            raise SourceError(source, redact(str(exc)), "refused", len(attempts)) from None

    def close(self) -> None:
        self.net.close()
        self._cached.close()


_CLIENTS: dict[tuple, HttpClient] = {}
_CLIENTS_LOCK = threading.Lock()


def get_client() -> HttpClient:
    """The process's client for the current cache dir and WORKBENCH_HTTP_* settings."""
    settings = HttpSettings.from_env()
    root = cache_dir() / "http"
    key = (str(root), settings)
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = HttpClient(settings, root)
        return _CLIENTS[key]


def reset_clients() -> None:
    """Close and forget every client (tests, or after changing the environment)."""
    with _CLIENTS_LOCK:
        for client in _CLIENTS.values():
            client.close()
        _CLIENTS.clear()


def source_url(source: str, default: str) -> str:
    """Base URL of `source`, overridable as ``WORKBENCH_<SOURCE>_URL`` (no trailing slash)."""
    return (os.environ.get(f"WORKBENCH_{source.upper()}_URL") or default).rstrip("/")


__all__ = [
    "HttpClient",
    "HttpSettings",
    "backoff_wait",
    "env_secret",
    "get_client",
    "parse_retry_after",
    "redact",
    "reset_clients",
    "source_url",
]
