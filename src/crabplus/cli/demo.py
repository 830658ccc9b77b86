"""``crabplus demo``: the main job — AVSynth, the tiny model (base stage, then I-LoRA multi-task),
evaluation on every mirror dataset, report and plots. ``--full`` runs the transfer study."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def register(sub) -> None:
    parser = sub.add_parser(
        "demo", help="the main job: AVSynth -> tiny model -> I-LoRA -> evaluate -> report (CPU, minutes)",
        description="Generate a small AVSynth set, train the tiny model (a base stage, then I-LoRA multi-task on "
        "all 19 mirror datasets), evaluate every dataset with its official metric beside chance, write "
        "report.md + plots and print the table. --full runs the transfer study instead (single-task runs for "
        "every dataset, plain-LoRA and I-LoRA multi-task, the same epochs each, then the transfer table). "
        "Finished stages are reused when their configuration and inputs (by content) are unchanged; "
        "interrupted ones resume.",
    )
    parser.add_argument("--config", default=None, help="a demo YAML (default: the built-in settings, which "
                        "configs/demo.yaml spells out)")
    parser.add_argument("--out", default=None, help="output folder (default: runs/demo; --full in the same "
                        "folder reuses the plain demo's data and base stage)")
    parser.add_argument("--full", action="store_true", help="run the transfer study (takes much longer)")
    parser.add_argument("--seeds", default=None, help="with --full: comma-separated seeds (default 0,1,2)")
    parser.add_argument("--ranks", default=None, help="with --full: comma-separated I-LoRA ranks to sweep on a "
                        "validation split (e.g. 2,4,8,16) instead of the final comparison on test")
    parser.add_argument("--fresh", action="store_true", help="delete the output folder first (only a folder an "
                        "earlier demo wrote: one holding demo_config.yaml; anything else is refused)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="dotted overrides, e.g. adapter.max_steps=100 synth.per_dataset=12")
    parser.set_defaults(func=run)


def remove_demo_folder(out: Path) -> None:
    """Delete ``out`` for ``--fresh``, but only if it is a demo's run folder (it holds the
    ``demo_config.yaml`` every demo writes first) — never a folder a user pointed at by mistake."""
    from crabplus.cli.main import UsageError

    if not out.exists():
        return
    if out.is_symlink() or not out.is_dir() or not (out / "demo_config.yaml").is_file():
        raise UsageError(f"--fresh: {out} is not a crabplus demo folder (no demo_config.yaml in it); refusing to "
                         "delete it. Choose another --out, or remove it yourself")
    shutil.rmtree(out)


def run(args: argparse.Namespace) -> int:
    from crabplus.experiments.config import load_demo_config
    from crabplus.experiments.demo import run_demo

    overrides = list(args.overrides)
    if args.full:
        overrides.append("full=true")
    if args.seeds:
        overrides.append(f"study_seeds=[{args.seeds}]")
    if args.ranks:
        overrides.append(f"study_ranks=[{args.ranks}]")
    cfg = load_demo_config(args.config, overrides)
    if args.out is not None:
        cfg.output_dir = args.out
    if args.fresh:
        remove_demo_folder(Path(cfg.output_dir))
    run_demo(cfg)
    return 0
