"""``crabplus``: the console script. Each subcommand lives in ``crabplus.cli.<name>`` and provides
``register(subparsers)``, which adds its parser and sets ``func`` to a plain function
``(args) -> int``. ``main(argv)`` runs in process, so tests call it directly.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from crabplus import __version__

#: Subcommands in the order ``--help`` lists them.
COMMANDS = ("data", "train", "eval", "transfer", "predict", "demo", "convert", "serve", "lmms-tasks")


class UsageError(Exception):
    """Bad command-line input that argparse cannot see (exit code 2)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crabplus",
        description="Crab+: a unified audio-visual LLM with Interaction-aware LoRA. "
        "Start with `crabplus demo` (the embedded synthetic world, CPU, minutes).",
    )
    parser.add_argument("--version", action="version", version=f"crabplus {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"crabplus.cli.{name.replace('-', '_')}").register(sub)
    return parser


def not_built(what: str):
    """A subcommand function for a part that does not exist yet: says so and exits 2."""

    def run(args: argparse.Namespace) -> int:
        print(f"crabplus {what}: not built yet in this version", file=sys.stderr)
        return 2

    return run


def main(argv: list[str] | None = None) -> int:
    from crabplus.config.core import ConfigError
    from crabplus.data.records import RecordError

    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ConfigError, UsageError) as exc:
        print(f"crabplus {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except RecordError as exc:
        print(f"crabplus {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # typed errors of the media pipeline etc. carry their own messages
        if type(exc).__name__ in ("MediaError", "CheckpointError", "AdapterLoadError"):
            print(f"crabplus {args.command}: error: {exc}", file=sys.stderr)
            return 1
        raise


def console() -> None:
    sys.exit(main())
