"""``crabplus eval``: score predictions against records: report.json, report.md, plots."""

from __future__ import annotations

from crabplus.cli.main import not_built


def register(sub) -> None:
    parser = sub.add_parser("eval", help="score predictions against records: report.json, report.md, plots")
    parser.set_defaults(func=not_built("eval"))
