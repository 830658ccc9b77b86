"""``crabplus data import-avuie``: import the AV-UIE v2 release as unified records.

    crabplus data import-avuie ROOT --out DIR [--tasks ks,ave,...] [--splits train,test] [KEY=VALUE ...]
        [--no-skip-missing-media] [--strict]
        [--ave-annotations Annotations.txt] [--avvp-eval-audio AVVP_eval_audio.csv
        --avvp-eval-visual AVVP_eval_visual.csv] [--music-avqa-json avqa-test.json ...]
        [--refavs-metadata metadata.csv] [--unav-json unav100_annotations.json]

ROOT is the folder that holds ``AVUIE_2/``. Records go to ``DIR/<task>/<split>.jsonl``, the report to
``DIR/import_report.json`` and, as a table, to the terminal; the settings (``crabplus.data.config.ImportConfig``)
to ``DIR/resolved_config.yaml``. Exit code 0; 1 when a release file is
not valid JSON, or with ``--strict`` when any record was skipped.
"""

from __future__ import annotations

import argparse

#: Settings that also have a flag of their own (generated from the field: --out, --tasks, ...).
SHORTCUTS = (
    "out",
    "tasks",
    "splits",
    "skip_missing_media",
    "strict",
    "ave_annotations",
    "avvp_eval_audio",
    "avvp_eval_visual",
    "music_avqa_json",
    "refavs_metadata",
    "unav_json",
)


def register(data_sub) -> None:
    from crabplus.config.cli import add_config_arguments
    from crabplus.data.config import ImportConfig

    p = data_sub.add_parser(
        "import-avuie",
        help="import the AV-UIE v2 release as unified records",
        description="Read AVUIE_2/<task>/{train,test}.json under ROOT (the folder holding AVUIE_2/), write "
        "unified records to OUT/<task>/<split>.jsonl and a report of what was read, written and skipped "
        "(with reasons) to OUT/import_report.json. Settings: --config FILE, then the flags, then KEY=VALUE "
        "overrides; every flag sets the key of the same name. See docs/data.md.",
    )
    p.add_argument(
        "root",
        metavar="ROOT",
        nargs="*",
        help="the data root: the folder that holds AVUIE_2/ (key root); KEY=VALUE overrides may follow",
    )
    add_config_arguments(p, ImportConfig, shortcuts=SHORTCUTS, positional_overrides=False)
    p.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console

    from crabplus.cli.main import UsageError
    from crabplus.config.cli import config_from_args, split_overrides
    from crabplus.config.core import write_resolved_config
    from crabplus.data.config import ImportConfig
    from crabplus.data.importers import GroundTruthFiles, import_avuie, parse_tasks
    from crabplus.schema.records import RecordError

    roots, overrides = split_overrides(args.root)
    if len(roots) > 1:
        raise UsageError(f"one ROOT, got {len(roots)}: {' '.join(roots)}")
    cfg = config_from_args(ImportConfig, args, overrides=overrides, values={"root": roots[0]} if roots else None)
    if cfg.root is None or cfg.out is None:
        raise UsageError("needs ROOT and --out DIR (or root: and out: in --config)")
    if Path(cfg.out).exists() and not Path(cfg.out).is_dir():
        raise UsageError(f"--out {cfg.out}: a file, not a folder; give the folder the records go to")
    try:
        tasks = parse_tasks(cfg.tasks)
        files = GroundTruthFiles(
            ave_annotations=cfg.ave_annotations,
            avvp_eval_audio=cfg.avvp_eval_audio,
            avvp_eval_visual=cfg.avvp_eval_visual,
            music_avqa=cfg.music_avqa_json,
            refavs_metadata=cfg.refavs_metadata,
            unav_annotations=cfg.unav_json,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        report = import_avuie(
            cfg.root,
            cfg.out,
            tasks=tasks,
            splits=cfg.splits,
            skip_missing_media=cfg.skip_missing_media,
            ground_truth=files,
        )
    except RecordError:
        raise  # a bad file: main() prints it naming the file, exit 1
    except ValueError as exc:  # a bad argument (an unknown split)
        raise UsageError(str(exc)) from None
    write_resolved_config(cfg, cfg.out)
    console = Console(width=160)
    console.print(report.table())
    for note in report.notes:
        console.print(f"note: {note}")
    totals = report.totals()
    console.print(f"{totals['written']} records written under {cfg.out}; report: {cfg.out}/import_report.json")
    if totals["errors"]:
        return 1
    return 1 if cfg.strict and totals["skipped_total"] else 0
