"""``crabplus transfer``: the transfer table: multi-task vs single-task per dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

#: Settings that also have a flag of their own (generated from the field: --single, --multi, ...).
SHORTCUTS = ("single", "multi", "baseline", "out")


def register(sub) -> None:
    from crabplus.config.cli import add_config_arguments
    from crabplus.evaluate.config import TransferConfig

    parser = sub.add_parser(
        "transfer",
        help="the transfer table: multi-task vs single-task per dataset",
        description="Compare evaluation reports: per dataset the single-task score, the multi-task score, the "
        "relative change and its sign (flipped for lower-is-better metrics), and the share of datasets with "
        "positive transfer. Writes transfer.json, transfer.md, transfer.png and "
        "resolved_config.yaml. Settings: --config FILE, then the flags, then KEY=VALUE overrides.",
    )
    add_config_arguments(parser, TransferConfig, shortcuts=SHORTCUTS, example="baseline=runs/lora")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from crabplus.cli.main import UsageError
    from crabplus.config.cli import config_from_args
    from crabplus.config.core import write_resolved_config
    from crabplus.evaluate import TransferError, load_run_report, transfer_table, write_transfer
    from crabplus.evaluate.config import TransferConfig
    from crabplus.evaluate.markdown import fmt

    cfg = config_from_args(TransferConfig, args)
    if not cfg.single or cfg.multi is None:
        raise UsageError("needs --single RUN [RUN ...] and --multi RUN (or single: and multi: in --config)")
    try:
        singles = [load_run_report(r) for r in cfg.single]
        multi_name, multi = load_run_report(cfg.multi)
        baseline = load_run_report(cfg.baseline) if cfg.baseline else (None, None)
        table = transfer_table(
            [r for _, r in singles],
            multi,
            baseline[1],
            single_names=[n for n, _ in singles],
            multi_name=multi_name,
            baseline_name=baseline[0] or "baseline",
        )
    except TransferError as exc:
        raise UsageError(str(exc)) from None
    out = Path(cfg.out) if cfg.out else Path(cfg.multi) / "transfer"
    files = write_transfer(table, out)
    write_resolved_config(cfg, out)
    for row in table.rows:
        rel = "–" if row.relative_change is None else f"{100 * row.relative_change:+.1f}%"
        print(f"{row.dataset:<9} {row.metric:<15} single {fmt(row.single)}  multi {fmt(row.multi)}  {rel} {row.sign}")
    if table.positive_share is not None:
        share = 100 * table.positive_share
        print(f"positive transfer on {table.positive}/{table.compared} rows ({share:.0f}%)")
    print(f"wrote {', '.join(str(out / f) for f in files.values())}")
    if "plot" not in files:
        print(
            "no transfer.png: no dataset has a relative change to draw (each needs both runs' score, the single "
            "one non-zero)"
        )
    return 0
