"""The `workbench` command line."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Evidence Workbench: research question -> checkable evidence synthesis.", no_args_is_help=True)
corpus_app = typer.Typer(help="Manage local corpora.", no_args_is_help=True)
eval_app = typer.Typer(help="Benchmarks: retrieval and verification.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")
app.add_typer(eval_app, name="eval")


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@corpus_app.command("add")
def corpus_add(name: str, path: Path) -> None:
    """Register a JSONL corpus under NAME and build its search index."""
    from .errors import WorkbenchError
    from .store import add_corpus

    try:
        store = add_corpus(name, path)
    except WorkbenchError as exc:
        _fail(exc)
    typer.echo(f"{name}: {len(store)} documents indexed at {store.db_path}")


@corpus_app.command("list")
def corpus_list() -> None:
    """List known corpora and whether their index is built."""
    from .store import registered, store_path

    for name, path in sorted(registered().items()):
        typer.echo(f"{name}\t{path}\t{'built' if store_path(name).exists() else 'not built'}")


if __name__ == "__main__":
    app()
