"""``crabplus eval``: score predictions against records: report.json, report.md, plots."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:
    parser = sub.add_parser(
        "eval", help="score predictions against records: report.json, report.md, plots",
        description="Join a prediction file with record files by id, score every dataset with its official "
        "metric (beside the release's convention and a chance baseline) and write report.json, report.md "
        "and PNG plots.")
    parser.add_argument("--predictions", required=True, help="prediction JSON Lines file (crabplus predict)")
    parser.add_argument("--data", required=True, nargs="+", metavar="RECORDS",
                        help="record files or folders of *.jsonl record files")
    parser.add_argument("--root", default=None,
                        help="data root of the media and masks; default: per record file, the nearest folder at "
                        "or above it holding manifest.json (an AVSynth world), else the file's own folder")
    parser.add_argument("--out", default=None, help="output folder (default: the predictions file's folder)")
    parser.add_argument("--segmenter", choices=("grabcut", "sam2"), default="grabcut",
                        help="box+points -> mask for S4/MS3/Ref-AVS (default: grabcut, no weights)")
    parser.add_argument("--sam2-checkpoint", default=None, metavar="DIR",
                        help="local transformers SAM 2.1 folder (config.json + model.safetensors)")
    parser.add_argument("--frames-per-batch", type=int, default=20,
                        help="consecutive S4/MS3 frames per J and F call (official: 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the chance baseline")
    parser.add_argument("--chance-draws", type=int, default=20,
                        help="independent chance draws scored: their mean is the chance level, their 95th "
                             "percentile the band a score must pass (default 20)")
    parser.add_argument("--mask-chance-draws", type=int, default=5,
                        help="at most this many chance draws for S4/MS3/Ref-AVS/ARIG, each a segmenter call per "
                             "frame (default 5)")
    parser.add_argument("--allow-empty", action="store_true",
                        help="an empty prediction file is not an error (the report is then empty)")
    parser.add_argument("--no-meteor", action="store_true", help="skip METEOR (saves its Java start-up)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from crabplus.cli.main import UsageError
    from crabplus.config.core import ConfigError
    from crabplus.evaluate import EvalConfig, evaluate_predictions, load_eval_records, load_predictions
    from crabplus.evaluate.markdown import fmt
    from crabplus.segment import SegmenterError
    from crabplus.segment.sam2 import check_checkpoint

    try:
        cfg = EvalConfig(segmenter=args.segmenter, sam2_checkpoint=args.sam2_checkpoint,
                         frames_per_batch=args.frames_per_batch, meteor=not args.no_meteor, seed=args.seed,
                         chance_draws=args.chance_draws, mask_chance_draws=args.mask_chance_draws)
    except ConfigError as exc:
        raise UsageError(str(exc).replace("eval.sam2_checkpoint", "--sam2-checkpoint")
                         .replace("eval.chance_draws", "--chance-draws")
                         .replace("eval.mask_chance_draws", "--mask-chance-draws")) from None
    try:
        if cfg.segmenter == "sam2":
            check_checkpoint(cfg.sam2_checkpoint)  # fail before any work; the model loads when a mask is needed
        predictions = load_predictions(args.predictions)
        if not predictions and not args.allow_empty:
            raise UsageError(f"--predictions {args.predictions}: the file holds no prediction rows (was "
                             "`crabplus predict` interrupted before its first row?); --allow-empty accepts that")
        records, roots = load_eval_records(args.data, args.root)
        out = Path(args.out) if args.out else Path(args.predictions).resolve().parent
        report = evaluate_predictions(records, predictions, roots, out_dir=out, config=cfg)
    except SegmenterError as exc:
        raise UsageError(str(exc)) from None
    for row in report["datasets"].values():
        print(f"{row['dataset']:<9} {row['primary_metric']:<15} {fmt(row['primary'])}  "
              f"(chance {fmt(row['chance']['primary'])}, band {fmt(row['chance'].get('band'))}"
              f"{', beyond chance' if row.get('beyond_chance') else ''}; n={row['n']}, unparsed={row['unparsed']})")
    for note in report["notes"]:
        print(f"note: {note}")
    print(f"wrote {', '.join(str(out / f) for f in report['files'].values())}")
    return 0
