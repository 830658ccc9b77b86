"""``crabplus lmms-tasks``: write lmms-eval task files for local record files (fully offline)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:
    parser = sub.add_parser(
        "lmms-tasks", help="write lmms-eval tasks (crabplus_avuie / crabplus_avsynth) for local record files",
        description="Write one lmms-eval task per dataset found in the records (YAML + local documents) into OUT; "
        "run them with `lmms-eval --model crabplus --model_args checkpoint=C --tasks <group>_<dataset> "
        "--include_path OUT`. Scores are crabplus eval's (our parser, the official metric).",
    )
    parser.add_argument("--data", nargs="+", required=True, type=Path,
                        help="record files or folders (as crabplus eval --data: media resolve against each "
                             "file's data root)")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="the task folder to write (--include_path)")
    parser.add_argument("--group", choices=("crabplus_avuie", "crabplus_avsynth"), default="crabplus_avsynth",
                        help="crabplus_avuie for the real benchmarks, crabplus_avsynth for the AVSynth mirrors "
                        "(default: %(default)s)")
    parser.add_argument("--max-new-tokens", type=int, default=512, metavar="N",
                        help="longest answer each task's generation asks for, in tokens (default: %(default)s)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from crabplus.lmms.tasks import write_task_dir

    names = write_task_dir(args.out, args.data, args.group, max_new_tokens=args.max_new_tokens)
    print(f"wrote {len(names)} task(s) into {args.out} (tag {args.group}): {', '.join(names)}")
    return 0
