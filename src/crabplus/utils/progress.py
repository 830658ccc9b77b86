"""Progress bars on long work (rich), quiet under CI and on non-main ranks.

``CRABPLUS_QUIET=1`` or ``CI=true`` disables the bars; a non-terminal stdout gets no live display
either, so log files stay readable — except in a Jupyter notebook, where rich draws a live widget.
There (a log file, a pipe, a job scheduler's output) the work still reports how far it is: one log line
(logger ``crabplus.progress``, INFO) each tenth of the way, ``predict: 40/200 (20%), 1m12s, about 4m48s left``.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from crabplus.utils.dist import is_main_process

T = TypeVar("T")
log = logging.getLogger("crabplus.progress")


def _silenced() -> bool:
    quiet = os.environ.get("CRABPLUS_QUIET", "") not in ("", "0")
    return quiet or os.environ.get("CI", "").lower() in ("1", "true", "yes") or not is_main_process()


def progress_enabled() -> bool:
    return not _silenced() and (sys.stdout.isatty() or _in_notebook())


def progress_lines_enabled() -> bool:
    """No live bar only because the output is not a terminal: report progress as log lines instead."""
    return not _silenced() and not progress_enabled()


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class _Lines:
    """Progress as log lines: at each tenth of ``total`` (every 10 items when the total is unknown)."""

    def __init__(self, description: str, total: int | None):
        self.description, self.total, self.done = description, total, 0
        self.step = max(1, math.ceil(total / 10)) if total else 10
        self.next, self.start = self.step, time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.done < self.next and self.done != self.total:
            return
        while self.next <= self.done:
            self.next += self.step
        elapsed = time.monotonic() - self.start
        if self.total:
            left = elapsed / self.done * (self.total - self.done) if self.done else 0.0
            log.info(
                "%s: %d/%d (%d%%), %s, about %s left",
                self.description,
                self.done,
                self.total,
                100 * self.done // self.total,
                _clock(elapsed),
                _clock(left),
            )
        else:
            log.info("%s: %d, %s", self.description, self.done, _clock(elapsed))


def _in_notebook() -> bool:
    """A Jupyter kernel: rich draws its bars as a live widget there (stdout is not a terminal)."""
    shell = sys.modules.get("IPython")
    ip = getattr(shell, "get_ipython", lambda: None)() if shell is not None else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def make_progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        disable=not progress_enabled(),
    )


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate ``items`` with a progress bar (a no-op wrapper when bars are disabled)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    lines = _Lines(description, total) if progress_lines_enabled() else None
    with make_progress() as progress:
        task = progress.add_task(description, total=total, info="")
        for item in items:
            yield item
            progress.advance(task)
            if lines is not None:
                lines.advance()


@contextmanager
def progress_bar(description: str, total: int | None):
    """A bar whose ``update(n=1, info=...)`` advances it; for loops that are not plain iterables."""
    lines = _Lines(description, total) if progress_lines_enabled() else None
    with make_progress() as progress:
        task = progress.add_task(description, total=total, info="")

        class _Bar:
            def update(self, n: int = 1, info: str | None = None) -> None:
                progress.update(task, advance=n, **({"info": info} if info is not None else {}))
                if lines is not None:
                    lines.advance(n)

        yield _Bar()
