"""``crabplus predict``: answer a task on your own video."""

from __future__ import annotations

from crabplus.cli.main import not_built


def register(sub) -> None:
    parser = sub.add_parser("predict", help="answer a task on your own video")
    parser.set_defaults(func=not_built("predict"))
