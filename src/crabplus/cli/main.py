"""``crabplus``: the console script. Each subcommand lives in ``crabplus.cli.<name>`` and provides
``register(subparsers)``, which adds its parser and sets ``func`` to a plain function
``(args) -> int``. ``main(argv)`` runs in process, so tests call it directly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from crabplus import __version__
from crabplus.utils.errors import CrabplusError, UsageError, describe

__all__ = ["COMMANDS", "CrabplusError", "UsageError", "build_parser", "main"]

#: Subcommands in the order ``--help`` lists them.
COMMANDS = ("data", "train", "eval", "transfer", "predict", "demo", "convert", "serve", "lmms-tasks")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crabplus",
        description="Crab+: a unified audio-visual LLM with Interaction-aware LoRA. "
        "Start with `crabplus demo` (the embedded synthetic world, CPU, minutes).",
    )
    parser.add_argument("--version", action="version", version=f"crabplus {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more log output (-vv: debug); the default level comes from CRABPLUS_LOG",
    )
    parser.add_argument("-q", "--quiet", action="count", default=0, help="less log output (warnings only)")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback of an error (also: CRABPLUS_DEBUG=1)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"crabplus.cli.{name.replace('-', '_')}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; every error becomes one line on stderr and a non-zero exit code.

    A :class:`CrabplusError` (bad input: its message names the file/record/field or flag) exits
    with its own code (1, or 2 for usage/config); an OSError naming a file exits 1; anything else
    is a bug of ours and exits 3 with a one-line summary. ``--debug`` prints the traceback.
    """
    from crabplus.utils.logs import setup_logging

    parser = build_parser()
    args = _parse(parser, argv)
    setup_logging(args.verbose, args.quiet)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    debug = args.debug or os.environ.get("CRABPLUS_DEBUG", "") not in ("", "0")
    prefix = f"crabplus {args.command}: error:"
    try:
        return int(args.func(args) or 0)
    except CrabplusError as exc:
        _traceback(debug)
        print(f"{prefix} {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"crabplus {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a file the command touched: name it
        _traceback(debug)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{prefix} {where}{describe(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:
        _traceback(debug)
        print(
            f"{prefix} unexpected {describe(exc)} (a bug in crabplus: run again with --debug for the "
            "traceback and report it)",
            file=sys.stderr,
        )
        return 3


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv`` with positionals and flags in any order: words left over after a flag
    (``predict clip.mp4 --task ks max_new_tokens=8``) join the command's list of positionals (its INPUTs
    or KEY=VALUE overrides), as ``parse_intermixed_args`` would do; argparse cannot intermix through
    subparsers itself. Anything else left over is refused as argparse refuses it."""
    args, extra = parser.parse_known_args(argv)
    if not extra:
        return args
    command = getattr(args, "command", None)
    subparsers = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    sub = subparsers.choices.get(command) if subparsers is not None and command else None
    lists = [
        a
        for a in (sub._actions if sub is not None else [])
        if not a.option_strings and a.nargs in ("*", "+") and isinstance(getattr(args, a.dest, None), list)
    ]
    if len(lists) != 1 or any(word.startswith("-") for word in extra):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    getattr(args, lists[0].dest).extend(extra)
    return args


def _traceback(debug: bool) -> None:
    if debug:
        traceback.print_exc()


def console() -> None:
    sys.exit(main())
