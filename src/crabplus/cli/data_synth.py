"""``crabplus data synth``: generate AVSynth, the embedded synthetic audio-visual world."""

from __future__ import annotations

from crabplus.cli.main import not_built


def register(data_sub) -> None:
    p = data_sub.add_parser("synth", help="generate the AVSynth synthetic world")
    p.set_defaults(func=not_built("data synth"))
