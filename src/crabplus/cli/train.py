"""``crabplus train``: multi-task instruction tuning (I-LoRA, plain LoRA, single-task, base stage)."""

from __future__ import annotations

from crabplus.cli.main import not_built


def register(sub) -> None:
    parser = sub.add_parser("train", help="multi-task instruction tuning (I-LoRA, plain LoRA, single-task, base stage)")
    parser.set_defaults(func=not_built("train"))
