"""The workbench's small exception hierarchy: every error a user sees is one line naming what is wrong."""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class for every error the workbench raises on purpose."""


class ParamsError(WorkbenchError):
    """A params file is invalid; carries the file and the offending field."""

    def __init__(self, path: str, field: str, message: str) -> None:
        self.path, self.field, self.message = str(path), field, message
        super().__init__(f"{path}: {field}: {message}")


class StoreError(WorkbenchError):
    """The local corpus store cannot be built or queried."""


class SourceError(WorkbenchError):
    """A scholarly source failed after its retries; `kind` says how (``down``: timeouts, connection errors,
    408/5xx; ``throttled``: 429/425; ``bad_body``; ``refused``: other 4xx; ``offline``; ``budget``), `attempts`
    how many requests were sent, and `out_of_time` whether the source's time budget ended the retries."""

    def __init__(self, source: str, message: str, kind: str = "other", attempts: int = 0,
                 out_of_time: bool = False) -> None:
        self.source, self.kind, self.attempts, self.out_of_time = source, kind, attempts, out_of_time
        super().__init__(f"{source}: {message}")


class ModelError(WorkbenchError):
    """A shipped model file is missing or unreadable."""


class RunError(WorkbenchError):
    """A notebook failed during `workbench run`; names the notebook and cell."""

    def __init__(self, notebook: str, cell: int | None, message: str) -> None:
        self.notebook, self.cell = notebook, cell
        where = f"{notebook} cell {cell}" if cell is not None else notebook
        super().__init__(f"{where}: {message}")


class ReviewError(WorkbenchError):
    """A review-decisions file is malformed."""
