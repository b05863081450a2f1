"""One progress bar for training: rich on a terminal, one updating line in Jupyter, else quiet.

``fit`` draws at most ten refreshes a second, so a fast loop never floods a notebook with
lines (the classic tqdm-in-Jupyter pitfall is one printed line per update). It is quiet in
tests (``PYTEST_CURRENT_TEST`` is set) and when ``INITKIT_PROGRESS=0``, and when output is not
a terminal (CI logs, pipes), unless ``enabled=True`` is asked for.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

ENV_PROGRESS = "INITKIT_PROGRESS"
REFRESH_SECONDS = 0.1


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython's ZMQ shell)."""
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def choose_backend(enabled: bool | None = None) -> str:
    """``"rich"``, ``"notebook"`` or ``"none"`` for this process.

    ``enabled=None`` decides automatically: off under pytest, off when
    ``INITKIT_PROGRESS`` is 0/false/off, on in Jupyter and on a terminal (stderr a TTY).
    """
    if enabled is False:
        return "none"
    if enabled is None:
        setting = os.environ.get(ENV_PROGRESS, "").strip().lower()
        if setting in ("0", "false", "no", "off") or "PYTEST_CURRENT_TEST" in os.environ:
            return "none"
    if in_notebook():
        return "notebook"
    if enabled or sys.stderr.isatty():
        return "rich"
    return "none"


def _text_bar(done: int, total: int, width: int = 30) -> str:
    filled = int(width * done / total) if total else width
    return "[" + "#" * filled + "." * (width - filled) + f"] {done}/{total}"


class ProgressBar:
    """``with ProgressBar(total, "he") as bar: bar.update(status="loss 0.12")``."""

    def __init__(self, total: int, description: str = "", enabled: bool | None = None):
        self.total = int(total)
        self.description = description
        self.backend = choose_backend(enabled)
        self.done = 0
        self.status = ""
        self._last = 0.0
        self._impl: Any = None
        self._task: Any = None

    def __enter__(self) -> ProgressBar:
        if self.backend == "rich":
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._impl = Progress(TextColumn("{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TimeElapsedColumn(),
                                  TextColumn("{task.fields[status]}"),
                                  console=Console(stderr=True), transient=False)
            self._impl.start()
            self._task = self._impl.add_task(self.description, total=self.total, status="")
        elif self.backend == "notebook":
            from IPython.display import display

            self._impl = display(self._line(), display_id=True)
        return self

    def _line(self) -> str:
        return f"{self.description} {_text_bar(self.done, self.total)} {self.status}".strip()

    def update(self, advance: int = 1, status: str | None = None, force: bool = False) -> None:
        """Count ``advance`` steps; redraw at most every 0.1 s (or now with ``force``)."""
        self.done += advance
        if status is not None:
            self.status = status
        if self.backend == "none":
            return
        now = time.perf_counter()
        if not force and now - self._last < REFRESH_SECONDS:
            return
        self._last = now
        if self.backend == "rich":
            self._impl.update(self._task, completed=self.done, status=self.status)
        else:
            self._impl.update(self._line())

    def __exit__(self, *exc: object) -> None:
        if self.backend == "none":
            return
        self.update(0, force=True)
        if self.backend == "rich":
            self._impl.stop()
