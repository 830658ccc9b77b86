"""``crabplus eval``: score predictions against records: report.json, report.md, plots."""

from __future__ import annotations

import argparse
from pathlib import Path

#: Settings that also have a flag of their own (generated from the field: --predictions, --chance-draws, ...).
SHORTCUTS = (
    "predictions",
    "data",
    "root",
    "out",
    "segmenter",
    "sam2_checkpoint",
    "frames_per_batch",
    "seed",
    "chance_draws",
    "mask_chance_draws",
    "allow_empty",
    "meteor",
)


def register(sub) -> None:
    from crabplus.config.cli import add_config_arguments
    from crabplus.evaluate.config import EvalCommandConfig

    parser = sub.add_parser(
        "eval",
        help="score predictions against records: report.json, report.md, plots",
        description="Join a prediction file with record files by id, score every dataset with its official "
        "metric (beside the release's convention and a chance baseline) and write report.json, report.md, "
        "PNG plots and resolved_config.yaml. Settings: --config FILE, then the flags, then KEY=VALUE "
        "overrides; every flag sets the key of the same name (--chance-draws 2 is chance_draws=2).",
    )
    add_config_arguments(parser, EvalCommandConfig, shortcuts=SHORTCUTS, example="chance_draws=5 meteor=false")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from crabplus.cli.main import UsageError
    from crabplus.config.cli import config_from_args
    from crabplus.config.core import write_resolved_config
    from crabplus.evaluate import evaluate_predictions, load_eval_records, load_predictions
    from crabplus.evaluate.config import EvalCommandConfig
    from crabplus.evaluate.markdown import fmt
    from crabplus.segment import SegmenterError
    from crabplus.segment.sam2 import check_checkpoint

    cfg = config_from_args(EvalCommandConfig, args)
    if cfg.predictions is None or not cfg.data:
        raise UsageError("needs --predictions FILE and --data RECORDS (or predictions: and data: in --config)")
    try:
        if cfg.segmenter == "sam2":
            check_checkpoint(cfg.sam2_checkpoint)  # fail before any work; the model loads when a mask is needed
        predictions = load_predictions(cfg.predictions)
        if not predictions and not cfg.allow_empty:
            raise UsageError(
                f"--predictions {cfg.predictions}: the file holds no prediction rows (was "
                "`crabplus predict` interrupted before its first row?); --allow-empty accepts that"
            )
        records, roots = load_eval_records(cfg.data, cfg.root)
        out = Path(cfg.out) if cfg.out else Path(cfg.predictions).resolve().parent
        report = evaluate_predictions(records, predictions, roots, out_dir=out, config=cfg)
    except SegmenterError as exc:
        raise UsageError(str(exc)) from None
    write_resolved_config(cfg, out)
    for row in report.datasets.values():
        print(
            f"{row.dataset:<9} {row.primary_metric:<15} {fmt(row.primary)}  "
            f"(chance {fmt(row.chance.primary)}, band {fmt(row.chance.band)}"
            f"{', beyond chance' if row.beyond_chance else ''}; n={row.n}, unparsed={row.unparsed})"
        )
    for note in report.notes:
        print(f"note: {note}")
    print(f"wrote {', '.join(str(out / f) for f in report.files.values())}")
    return 0
