"""``crabplus demo``: the main job — AVSynth, the tiny model (base stage, then I-LoRA multi-task),
evaluation on every mirror dataset, report and plots. ``--full`` runs the transfer study."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def register(sub) -> None:
    from crabplus.config.cli import add_config_arguments
    from crabplus.experiments.config import DemoConfig

    parser = sub.add_parser(
        "demo",
        help="the main job: AVSynth -> tiny model -> I-LoRA -> evaluate -> report (CPU, minutes)",
        description="Generate a small AVSynth set, train the tiny model (a base stage, then I-LoRA multi-task on "
        "all 19 mirror datasets), evaluate every dataset with its official metric beside chance, write "
        "report.md + plots and print the table. --full runs the transfer study instead (single-task runs for "
        "every dataset, plain-LoRA and I-LoRA multi-task, the same epochs each, then the transfer table). "
        "Finished stages are reused when their configuration and inputs (by content) are unchanged; "
        "interrupted ones resume.",
    )
    add_config_arguments(
        parser,
        DemoConfig,
        shortcuts=("output_dir", "full", "study_seeds", "study_ranks"),
        example="adapter.max_steps=100 synth.per_dataset=12",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="delete the output folder first (only a folder an "
        "earlier demo wrote: one holding demo_config.yaml; anything else is refused)",
    )
    parser.set_defaults(func=run)


def remove_demo_folder(out: Path) -> None:
    """Delete ``out`` for ``--fresh``, but only if it is a demo's run folder (it holds the
    ``demo_config.yaml`` every demo writes first) — never a folder a user pointed at by mistake."""
    from crabplus.cli.main import UsageError

    if not out.exists():
        return
    if out.is_symlink() or not out.is_dir() or not (out / "demo_config.yaml").is_file():
        raise UsageError(
            f"--fresh: {out} is not a crabplus demo folder (no demo_config.yaml in it); refusing to "
            "delete it. Choose another --out, or remove it yourself"
        )
    shutil.rmtree(out)


def run(args: argparse.Namespace) -> int:
    from crabplus.config.cli import config_from_args
    from crabplus.experiments.config import DemoConfig
    from crabplus.experiments.demo import run_demo

    cfg = config_from_args(DemoConfig, args)
    if args.fresh:
        remove_demo_folder(Path(cfg.output_dir))
    run_demo(cfg)
    return 0
