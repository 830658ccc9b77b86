"""``crabplus train``: multi-task instruction tuning (I-LoRA, plain LoRA, single-task, base stage).

crabplus train --config configs/tiny-ilora.yaml train.max_steps=200 output_dir=runs/x [--resume]
torchrun --nproc_per_node=2 -m crabplus train --config configs/tiny-ilora.yaml train.distributed=fsdp
"""

from __future__ import annotations

import argparse


def register(sub) -> None:
    from crabplus.config.cli import add_config_arguments
    from crabplus.train.run_config import RunConfig

    parser = sub.add_parser(
        "train",
        help="multi-task instruction tuning (I-LoRA, plain LoRA, single-task, base stage)",
        description="Train one stage as a YAML preset says (configs/*.yaml), with dotted overrides. "
        "Writes OUTPUT_DIR/config.yaml, metrics.jsonl, checkpoint-<step>/ and final/. "
        "Under torchrun it runs DDP or FSDP (train.distributed).",
    )
    add_config_arguments(parser, RunConfig, example="train.max_steps=50 model.ilora.num_experts=4")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the newest complete checkpoint in output_dir that loads (a damaged "
        "newer one is reported and passed over; a fresh start if there is none)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start from step 0 even if output_dir holds checkpoints of an earlier run, deleting "
        "them (without it, and without --resume, such a folder is refused)",
    )
    parser.add_argument(
        "--stop-after-step",
        type=int,
        default=None,
        metavar="N",
        help="end once step N is done, as if interrupted (the checkpoints so far stay resumable)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from crabplus.cli.main import UsageError
    from crabplus.config.cli import config_from_args
    from crabplus.train import train
    from crabplus.train.run_config import RunConfig
    from crabplus.utils.dist import print0

    if args.resume and args.overwrite:
        raise UsageError("--resume and --overwrite exclude each other")
    cfg = config_from_args(RunConfig, args)
    result = train(cfg, resume=args.resume, stop_after_step=args.stop_after_step, overwrite=args.overwrite)
    row = result.metrics or {}
    print0(
        f"steps {result.steps}/{result.max_steps} in {result.elapsed_s:.1f}s; "
        f"last loss {row.get('loss', float('nan')):.4f}"
    )
    for name, loss in sorted((row.get("loss_per_task") or {}).items()):
        weights = (row.get("routing") or {}).get(name)
        route = "  router " + " ".join(f"{w:.2f}" for w in weights) if weights else ""
        print0(f"  {name:<10} loss {loss:.4f}{route}")
    if result.completed:
        print0(f"model: {result.checkpoint}")
    else:
        print0(f"stopped early; resume with --resume (last checkpoint: {result.last_checkpoint})")
    return 0
