"""``crabplus convert``: convert checkpoints (e.g. the release's finetune_weights.bin to safetensors)."""

from __future__ import annotations

from crabplus.cli.main import not_built


def register(sub) -> None:
    parser = sub.add_parser("convert", help="convert checkpoints (e.g. the release's finetune_weights.bin to safetensors)")
    parser.set_defaults(func=not_built("convert"))
