"""``crabplus transfer``: the transfer table: multi-task vs single-task per dataset."""

from __future__ import annotations

from crabplus.cli.main import not_built


def register(sub) -> None:
    parser = sub.add_parser("transfer", help="the transfer table: multi-task vs single-task per dataset")
    parser.set_defaults(func=not_built("transfer"))
