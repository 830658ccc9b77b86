"""``crabplus demo``: the main job: AVSynth -> train tiny model -> evaluate -> report (CPU, minutes)."""

from __future__ import annotations

from crabplus.cli.main import not_built


def register(sub) -> None:
    parser = sub.add_parser("demo", help="the main job: AVSynth -> train tiny model -> evaluate -> report (CPU, minutes)")
    parser.set_defaults(func=not_built("demo"))
