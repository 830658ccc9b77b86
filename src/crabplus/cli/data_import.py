"""``crabplus data import-avuie``: import the AV-UIE v2 release as unified records."""

from __future__ import annotations

from crabplus.cli.main import not_built


def register(data_sub) -> None:
    p = data_sub.add_parser("import-avuie", help="import the AV-UIE v2 release as unified records")
    p.set_defaults(func=not_built("data import-avuie"))
