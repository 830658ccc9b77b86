"""``crabplus data``: record files — validate, synthesise AVSynth, import real data."""

from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    parser = sub.add_parser(
        "data",
        help="validate record files, generate AVSynth, import real data",
        description="Work with unified record files (JSON Lines).",
    )
    data_sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    p = data_sub.add_parser(
        "validate",
        help="check record files; exit 1 naming every bad record",
        description="Validate unified record files. Every invalid record is reported "
        "with its file, line, record id and field; the exit code is 1 if any is invalid.",
    )
    p.add_argument("files", nargs="+", help="JSON Lines record files or folders of them")
    p.add_argument("--root", default=None, help="data root; with it, also check that every media file exists under it")
    p.add_argument(
        "--allow-empty", action="store_true", help="no record files (or no records) in the inputs is not an error"
    )
    p.set_defaults(func=run_validate)

    # Each of these lives in its own module, beside the code it drives.
    from crabplus.cli import data_import, data_synth

    data_synth.register(data_sub)
    data_import.register(data_sub)


def run_validate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from crabplus.cli.main import UsageError
    from crabplus.schema.records import RecordError, iter_record_files, load_records, resolve_media

    files = iter_record_files(args.files)
    if not files and not args.allow_empty:
        raise UsageError(f"no *.jsonl record files in {', '.join(args.files)}; --allow-empty accepts that")
    n_ok = n_bad = 0
    for path in files:
        errors: list[RecordError] = []
        records = load_records(path, errors=errors)
        if args.root is not None:
            for rec in records:
                media = {f"media.{k}": v for k, v in rec.media.paths().items()}
                if rec.answer.mask:
                    media["answer.mask"] = rec.answer.mask
                for name, rel in media.items():
                    if not resolve_media(args.root, rel).is_file():
                        errors.append(
                            RecordError(
                                f"media file not found under {args.root}: {rel}",
                                file=str(path),
                                record_id=rec.id,
                                field=name,
                            )
                        )
        bad_ids = {e.record_id for e in errors}
        n_bad += len(errors)
        n_ok += sum(1 for r in records if r.id not in bad_ids)
        for err in errors:
            print(f"error: {err}", file=sys.stderr)
    print(
        f"{n_ok} valid records, {n_bad} problem(s) in {len(files)} file(s)"
        + (f" (media checked under {Path(args.root)})" if args.root else "")
    )
    if n_ok + n_bad == 0 and files and not args.allow_empty:
        print("error: the record file(s) hold no records; --allow-empty accepts that", file=sys.stderr)
        return 1
    return 1 if n_bad else 0
