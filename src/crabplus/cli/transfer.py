"""``crabplus transfer``: the transfer table: multi-task vs single-task per dataset."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:
    parser = sub.add_parser(
        "transfer", help="the transfer table: multi-task vs single-task per dataset",
        description="Compare evaluation reports: per dataset the single-task score, the multi-task score, the "
        "relative change and its sign (flipped for lower-is-better metrics), and the share of datasets with "
        "positive transfer. Writes transfer.json, transfer.md and transfer.png.")
    parser.add_argument("--single", required=True, nargs="+", metavar="RUN",
                        help="single-task run folders (each holding report.json)")
    parser.add_argument("--multi", required=True, metavar="RUN", help="the multi-task run folder")
    parser.add_argument("--baseline", default=None, metavar="RUN",
                        help="a baseline multi-task run (e.g. plain LoRA) shown beside")
    parser.add_argument("--out", default=None, metavar="DIR", help="output folder (default: MULTI/transfer)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from crabplus.cli.main import UsageError
    from crabplus.evaluate import TransferError, load_run_report, transfer_table, write_transfer
    from crabplus.evaluate.markdown import fmt

    try:
        singles = [load_run_report(r) for r in args.single]
        multi_name, multi = load_run_report(args.multi)
        baseline = load_run_report(args.baseline) if args.baseline else (None, None)
        table = transfer_table([r for _, r in singles], multi, baseline[1], single_names=[n for n, _ in singles],
                               multi_name=multi_name, baseline_name=baseline[0] or "baseline")
    except TransferError as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.out) if args.out else Path(args.multi) / "transfer"
    files = write_transfer(table, out)
    for row in table.rows:
        rel = "–" if row.relative_change is None else f"{100 * row.relative_change:+.1f}%"
        print(f"{row.dataset:<9} {row.metric:<15} single {fmt(row.single)}  multi {fmt(row.multi)}  "
              f"{rel} {row.sign}")
    if table.positive_share is not None:
        share = 100 * table.positive_share
        print(f"positive transfer on {table.positive}/{table.compared} rows ({share:.0f}%)")
    print(f"wrote {', '.join(str(out / f) for f in files.values())}")
    if "plot" not in files:
        print("no transfer.png: no dataset has a relative change to draw (each needs both runs' score, the single "
              "one non-zero)")
    return 0
