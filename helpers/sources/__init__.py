"""Registry of scholarly sources: `get_source("local:arxiv-cs")`, `get_source("openalex")`, ..."""

from __future__ import annotations

from collections.abc import Callable

from .base import Source, SourceResult

_FACTORIES: dict[str, Callable[[str], Source]] = {}


def register(name: str) -> Callable[[Callable[[str], Source]], Callable[[str], Source]]:
    def deco(factory: Callable[[str], Source]) -> Callable[[str], Source]:
        _FACTORIES[name] = factory
        return factory

    return deco


def get_source(spec: str) -> Source:
    """Instantiate the source named by `spec` (`local:<corpus>` or a registered online source)."""
    from . import local, online  # noqa: F401  (each registers its sources)
    kind = "local" if spec.startswith("local:") else spec
    if kind not in _FACTORIES:
        raise KeyError(f"unknown source '{spec}' (known: local:<corpus>, {', '.join(sorted(k for k in _FACTORIES if k != 'local'))})")
    return _FACTORIES[kind](spec)


__all__ = ["Source", "SourceResult", "get_source", "register"]
