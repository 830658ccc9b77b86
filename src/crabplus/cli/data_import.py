"""``crabplus data import-avuie``: import the AV-UIE v2 release as unified records.

    crabplus data import-avuie ROOT --out DIR [--tasks ks,ave,...] [--splits train,test]
        [--no-skip-missing-media] [--strict]
        [--ave-annotations Annotations.txt] [--avvp-eval-audio AVVP_eval_audio.csv
        --avvp-eval-visual AVVP_eval_visual.csv] [--music-avqa-json avqa-test.json ...]
        [--refavs-metadata metadata.csv] [--unav-json unav100_annotations.json]

ROOT is the folder that holds ``AVUIE_2/``. Records go to ``DIR/<task>/<split>.jsonl``, the report to
``DIR/import_report.json`` and, as a table, to the terminal. Exit code 0; 1 when a release file is
not valid JSON, or with ``--strict`` when any record was skipped.
"""

from __future__ import annotations

import argparse


def register(data_sub) -> None:
    p = data_sub.add_parser(
        "import-avuie", help="import the AV-UIE v2 release as unified records",
        description="Read AVUIE_2/<task>/{train,test}.json under ROOT (the folder holding AVUIE_2/), write "
        "unified records to OUT/<task>/<split>.jsonl and a report of what was read, written and skipped "
        "(with reasons) to OUT/import_report.json. See docs/data.md.")
    p.add_argument("root", metavar="ROOT", help="the data root: the folder that holds AVUIE_2/")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder for the record files and the report")
    p.add_argument("--tasks", default=None, metavar="LIST",
                   help="comma-separated task flags (default: all 19): ks,ucf,meld,mer24,cremad,mafw,dfew,a2v,"
                   "v2a,avqa,avqa_thu,ave,unav,avvp,avcap,s4,ms3,ref_avs,arig")
    p.add_argument("--splits", default="train,test", metavar="LIST", help="train, test or both (default)")
    p.add_argument("--skip-missing-media", action=argparse.BooleanOptionalAction, default=True,
                   help="skip (and count) records whose media files are missing under ROOT (default); "
                   "--no-skip-missing-media writes them anyway and counts them as kept")
    p.add_argument("--strict", action="store_true", help="exit 1 when any record was skipped")
    gt = p.add_argument_group("benchmark ground truth (merged into the records; see docs/data.md)")
    gt.add_argument("--ave-annotations", metavar="FILE", help="AVE Annotations.txt (or a split file, same format)")
    gt.add_argument("--avvp-eval-audio", metavar="FILE", help="AVVP_eval_audio.csv (needs --avvp-eval-visual)")
    gt.add_argument("--avvp-eval-visual", metavar="FILE", help="AVVP_eval_visual.csv (needs --avvp-eval-audio)")
    gt.add_argument("--music-avqa-json", metavar="FILE", action="append", default=[],
                    help="MUSIC-AVQA avqa-{train,val,test}.json; repeat for several")
    gt.add_argument("--refavs-metadata", metavar="FILE", help="Ref-AVS metadata.csv")
    gt.add_argument("--unav-json", metavar="FILE",
                    help="UnAV-100 unav100_annotations.json (also creates unav test records from its test subset)")
    p.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console

    from crabplus.cli.main import UsageError
    from crabplus.data.importers import GroundTruthFiles, import_avuie, parse_tasks
    from crabplus.schema.records import RecordError

    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UsageError(f"--out {args.out}: a file, not a folder; give the folder the records go to")
    try:
        tasks = parse_tasks(args.tasks)
        splits = [s.strip() for s in args.splits.split(",") if s.strip()]
        files = GroundTruthFiles(ave_annotations=args.ave_annotations, avvp_eval_audio=args.avvp_eval_audio,
                                 avvp_eval_visual=args.avvp_eval_visual, music_avqa=args.music_avqa_json,
                                 refavs_metadata=args.refavs_metadata, unav_annotations=args.unav_json)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        report = import_avuie(args.root, args.out, tasks=tasks, splits=splits,
                              skip_missing_media=args.skip_missing_media, ground_truth=files)
    except RecordError:
        raise  # a bad file: main() prints it naming the file, exit 1
    except ValueError as exc:  # a bad argument (an unknown split)
        raise UsageError(str(exc)) from None
    console = Console(width=160)
    console.print(report.table())
    for note in report.notes:
        console.print(f"note: {note}")
    totals = report.totals()
    console.print(f"{totals['written']} records written under {args.out}; report: {args.out}/import_report.json")
    if totals["errors"]:
        return 1
    return 1 if args.strict and totals["skipped_total"] else 0
