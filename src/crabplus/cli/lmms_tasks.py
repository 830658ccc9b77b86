"""``crabplus lmms-tasks``: write lmms-eval task files for local record files (fully offline)."""

from __future__ import annotations

import argparse
from pathlib import Path

#: Settings that also have a flag of their own (generated from the field).
SHORTCUTS = ("data", "out", "group", "max_new_tokens")


def register(sub) -> None:
    from crabplus.config.cli import add_config_arguments
    from crabplus.lmms.config import LmmsTasksConfig

    parser = sub.add_parser(
        "lmms-tasks",
        help="write lmms-eval tasks (crabplus_avuie / crabplus_avsynth) for local record files",
        description="Write one lmms-eval task per dataset found in the records (YAML + local documents) into OUT; "
        "run them with `lmms-eval --model crabplus --model_args checkpoint=C --tasks <group>_<dataset> "
        "--include_path OUT`. Scores are crabplus eval's (our parser, the official metric). Settings: --config "
        "FILE, then the flags, then KEY=VALUE overrides.",
    )
    add_config_arguments(parser, LmmsTasksConfig, shortcuts=SHORTCUTS, example="group=crabplus_avuie")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from crabplus.cli.main import UsageError
    from crabplus.config.cli import config_from_args
    from crabplus.lmms.config import LmmsTasksConfig
    from crabplus.lmms.tasks import write_task_dir

    cfg = config_from_args(LmmsTasksConfig, args)
    if not cfg.data or cfg.out is None:
        raise UsageError("needs --data RECORDS and --out DIR (or data: and out: in --config)")
    names = write_task_dir(Path(cfg.out), [Path(p) for p in cfg.data], cfg.group, max_new_tokens=cfg.max_new_tokens)
    print(f"wrote {len(names)} task(s) into {cfg.out} (tag {cfg.group}): {', '.join(names)}")
    return 0
