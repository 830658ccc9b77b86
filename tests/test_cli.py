"""The console script: every subcommand has --help; main(argv) runs in process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from crabplus.cli import main
from crabplus.cli.main import COMMANDS


def test_top_level_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


@pytest.mark.parametrize("name", COMMANDS)
def test_each_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as info:
        main([name, "--help"])
    assert info.value.code == 0
    assert f"crabplus {name}" in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: crabplus" in capsys.readouterr().out


def test_console_script_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "crabplus", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("crabplus ")


def test_out_is_always_a_folder_and_output_always_a_file():
    """One rule across commands: ``--out DIR`` is where a command writes its files, ``--output FILE`` one file."""
    import argparse

    from crabplus.cli.main import build_parser

    seen: dict[str, set] = {"--out": set(), "--output": set()}

    def walk(parser) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    walk(sub)
            for flag in seen:
                if flag in action.option_strings:
                    seen[flag].add(action.metavar)

    walk(build_parser())
    assert seen == {"--out": {"DIR"}, "--output": {"FILE"}}
