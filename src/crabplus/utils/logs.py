"""Logging for the console script: one ``crabplus`` logger tree, level from ``-v``/``-q`` or
``CRABPLUS_LOG`` (a level name: DEBUG, INFO, WARNING, ERROR), messages on stderr.

Why: notes that a user should see (a skipped file, a torn metrics line dropped, a checkpoint
passed over on resume) go through ``logging.getLogger(__name__)`` in each module, so a user can
turn them up for a diagnosis or down for a script without the code printing directly.
"""

from __future__ import annotations

import logging
import os
import sys

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def resolve_level(verbose: int = 0, quiet: int = 0) -> int:
    """INFO by default; ``CRABPLUS_LOG`` replaces the default; each ``-v`` one level down, ``-q`` up."""
    name = os.environ.get("CRABPLUS_LOG", "").strip().upper()
    base = getattr(logging, name) if name in LEVELS else logging.INFO
    return min(logging.ERROR, max(logging.DEBUG, base - 10 * verbose + 10 * quiet))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (tests and notebooks replace it)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def setup_logging(verbose: int = 0, quiet: int = 0) -> int:
    """Route the ``crabplus`` loggers to stderr at the resolved level (idempotent); return the level."""
    level = resolve_level(verbose, quiet)
    logger = logging.getLogger("crabplus")
    logger.setLevel(level)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        logger.addHandler(handler)
    return level
