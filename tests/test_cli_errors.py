"""The CLI's error contract: one base class, one line per error, exit codes, --debug, log levels."""

from __future__ import annotations

import importlib
import logging

import pytest

from crabplus.cli.main import main
from crabplus.utils.errors import CrabplusError, InputFileError, reading
from crabplus.utils.logs import resolve_level

ERROR_CLASSES = [
    ("crabplus.config.core", "ConfigError", 2),
    ("crabplus.schema.records", "RecordError", 1),
    ("crabplus.data.media", "MediaError", 1),
    ("crabplus.model.build", "CheckpointError", 1),
    ("crabplus.train.checkpoint", "CheckpointError", 1),
    ("crabplus.train.state", "StateError", 1),
    ("crabplus.train.sampler", "SamplerError", 1),
    ("crabplus.adapters.config", "AdapterLoadError", 1),
    ("crabplus.infer.single", "PredictInputError", 2),
    ("crabplus.segment.sam2", "SegmenterError", 2),
    ("crabplus.evaluate.transfer", "TransferError", 1),
    ("crabplus.data.importers.masks", "MaskError", 1),
    ("crabplus.synth.generate", "SynthError", 1),
    ("crabplus.cli.main", "UsageError", 2),
]


@pytest.mark.parametrize("module,name,code", ERROR_CLASSES)
def test_every_user_error_derives_from_the_base(module, name, code):
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, CrabplusError) and cls.exit_code == code


def test_reading_names_the_file_for_any_other_failure(tmp_path):
    with (
        pytest.raises(InputFileError, match="data.bin: cannot read this file: KeyError"),
        reading(tmp_path / "data.bin"),
    ):
        raise KeyError("x")
    with pytest.raises(CrabplusError, match="^mine$"), reading(tmp_path / "data.bin"):  # ours pass unchanged
        raise CrabplusError("mine")


def test_debug_shows_the_traceback_and_a_bug_is_one_line_with_code_3(tmp_path, capsys, monkeypatch):
    missing = str(tmp_path / "none.jsonl")
    assert main(["data", "validate", missing]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "none.jsonl" in err and "Traceback" not in err
    assert main(["--debug", "data", "validate", missing]) == 1
    assert "Traceback" in capsys.readouterr().err

    import crabplus.cli.data as data_cli

    def broken(args):
        raise KeyError("internal")

    monkeypatch.setattr(data_cli, "run_validate", broken)
    assert main(["data", "validate", missing]) == 3
    err = capsys.readouterr().err
    assert "unexpected KeyError" in err and "--debug" in err and "Traceback" not in err


def test_log_level_from_flags_and_environment(monkeypatch):
    monkeypatch.delenv("CRABPLUS_LOG", raising=False)
    assert resolve_level() == logging.INFO
    assert resolve_level(verbose=1) == logging.DEBUG and resolve_level(quiet=1) == logging.WARNING
    assert resolve_level(quiet=5) == logging.ERROR
    monkeypatch.setenv("CRABPLUS_LOG", "warning")
    assert resolve_level() == logging.WARNING and resolve_level(verbose=1) == logging.INFO


def test_quiet_flags_hide_notes(tmp_path, capsys):
    from crabplus.train.metrics import read_metrics

    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n{"step": 2, "lo')
    main(["-qq", "data", "validate", str(tmp_path / "none.jsonl")])  # -qq: errors only
    capsys.readouterr()
    assert read_metrics(path) == [{"step": 1}]
    assert "dropped" not in capsys.readouterr().err
    main(["data", "validate", str(tmp_path / "none.jsonl")])
    capsys.readouterr()
    read_metrics(path)
    assert "dropped a line" in capsys.readouterr().err
