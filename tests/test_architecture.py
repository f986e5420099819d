"""The package's shape: no import circle between modules or between stage subpackages, no oversized module.

Imports are read with `ast` (every import, also those inside functions), so a circle hidden behind a lazy
import is found too.
"""

from __future__ import annotations

import ast
from pathlib import Path

HELPERS = Path(__file__).resolve().parent.parent / "helpers"
MAX_LINES = 500


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module under helpers/."""
    out = {}
    for path in HELPERS.rglob("*.py"):
        parts = list(path.relative_to(HELPERS.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The helpers modules that module `name` imports (a name imported from a package counts as the
    submodule when there is one)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                found.add(sub if sub in known else mod)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: imports(m, p, set(mods)) for m, p in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


ENTRY_POINTS = {"helpers.cli", "helpers.runner", "helpers.manifest", "helpers.demo"}  # above every stage: they run it
ENTRY_PACKAGES = ("helpers.batch",)  # `workbench batch` runs the runner, so it sits with the entry points


def stage_of(module: str) -> str:
    """`retrieval`, `verification`, ... for a stage's modules; `entry` for the CLI, runner and batch; else `core`."""
    parts = module.split(".")
    if module in ENTRY_POINTS or any(module == p or module.startswith(f"{p}.") for p in ENTRY_PACKAGES):
        return "entry"
    return parts[1] if len(parts) > 2 else "core"


def test_cycle_finder_finds_a_planted_circle():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(g) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_between_modules():
    g = graph()
    assert "helpers.retrieval.search" in g["helpers.retrieval.query"]  # the reader sees real edges
    assert cycles(g) == []


def test_no_import_circle_between_stages():
    """Stages depend one way: e.g. verification may use retrieval, never the reverse. `__init__` files of the
    subpackages hold docstrings only, so importing one module never drags in its whole stage."""
    g = graph()
    stages: dict[str, set[str]] = {}
    for mod, deps in g.items():
        stages.setdefault(stage_of(mod), set()).update(stage_of(d) for d in deps if stage_of(d) != stage_of(mod))
    assert "retrieval" in stages["verification"] and "core" in stages["synthesis"]
    # the optional LLM reader sits between them: synthesis -> llm -> verification (its sentence check)
    assert "llm" in stages["synthesis"] and "verification" in stages["llm"] and "llm" not in stages["verification"]
    assert cycles(stages) == []


def test_core_modules_import_no_stage():
    """The shared core (params, config, text, ...) sits below every stage; only the entry points (the CLI, the
    runner and the manifest) reach up."""
    g = graph()
    for mod, deps in g.items():
        if stage_of(mod) == "core":
            assert {stage_of(d) for d in deps} <= {"core"}, f"{mod} imports {sorted(deps)}"


def test_no_module_is_oversized():
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in modules().items()}
    assert not {m: n for m, n in sizes.items() if n > MAX_LINES}


def test_every_module_imports():
    """Every module of helpers/ imports cleanly (a name moved to another module fails here, not in a run)."""
    import importlib

    for mod in sorted(modules()):
        importlib.import_module(mod)
