"""Progress bars on long work (rich), quiet under CI and on non-main ranks.

``CRABPLUS_QUIET=1`` or ``CI=true`` disables the bars; a non-terminal stdout gets no live display
either, so log files stay readable — except in a Jupyter notebook, where rich draws a live widget.
"""

from __future__ import annotations

import os
import sys
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


def progress_enabled() -> bool:
    if os.environ.get("CRABPLUS_QUIET", "") not in ("", "0"):
        return False
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return False
    return is_main_process() and (sys.stdout.isatty() or _in_notebook())


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
    with make_progress() as progress:
        task = progress.add_task(description, total=total, info="")
        for item in items:
            yield item
            progress.advance(task)


@contextmanager
def progress_bar(description: str, total: int | None):
    """A bar whose ``update(n=1, info=...)`` advances it; for loops that are not plain iterables."""
    with make_progress() as progress:
        task = progress.add_task(description, total=total, info="")

        class _Bar:
            def update(self, n: int = 1, info: str | None = None) -> None:
                progress.update(task, advance=n, **({"info": info} if info is not None else {}))

        yield _Bar()
