"""What a run over many inputs checks before it appends to a prediction file: that the file is one it may
write (not one of its own inputs), and that a resumed file's earlier rows were made with the same settings.

Why: a re-run skips the ids already in ``--output``. Pointed at a record file, every record would count
as done and the run would write nothing and succeed; resumed with another checkpoint or another
``max_new_tokens``, the file would mix two models' answers while ``OUTPUT.config.yaml`` described only the
later ones. Both are refused, as ``crabplus train --resume`` refuses a changed run; ``allow_changed_settings``
continues anyway and keeps each settings block in its own file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from crabplus.config.core import to_dict
from crabplus.utils.errors import UsageError

#: Settings that do not change the answers written (where the rows go, where the model runs, ...).
NOT_ANSWER_SETTINGS = ("inputs", "output", "out", "device", "allow_empty", "allow_changed_settings")


def settings_path(output: Path, n: int = 1) -> Path:
    """``OUTPUT.config.yaml``; the ``n``-th settings of a file resumed with other settings: ``OUTPUT.config.n.yaml``."""
    return output.with_name(output.name + (".config.yaml" if n == 1 else f".config.{n}.yaml"))


def check_output(output: Path, inputs: list[Path]) -> None:
    """``output`` is not a folder and not one of the input files."""
    if output.is_dir():
        raise UsageError(f"--output {output}: a folder; give the prediction file's name")
    for path in inputs:
        if path.resolve() == output.resolve():
            raise UsageError(
                f"--output {output}: it is one of the inputs (a record file); give a new file for "
                "the predictions, e.g. predictions.jsonl"
            )


def _answer_settings(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in NOT_ANSWER_SETTINGS}


def settings_file(cfg, output: Path, *, resumed: bool) -> Path:
    """Where to write ``cfg`` beside ``output``. A resumed file (``resumed``: it holds rows) whose last
    settings differ in a setting that changes the answers is refused, naming each such setting, unless
    ``cfg.allow_changed_settings``; then the new settings go to the next ``OUTPUT.config.N.yaml``."""
    n = 1
    while settings_path(output, n + 1).is_file():
        n += 1
    last = settings_path(output, n)
    if not resumed or not last.is_file():
        return last
    try:
        before = yaml.safe_load(last.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, OSError):
        before = None
    now = _answer_settings(to_dict(cfg))
    before = _answer_settings(before) if isinstance(before, dict) else {}
    changed = [k for k in now if before.get(k) != now[k]]
    if not changed:
        return last
    if getattr(cfg, "allow_changed_settings", False):
        return settings_path(output, n + 1)
    diffs = "; ".join(f"{k}: {before.get(k)!r} then, {now[k]!r} now" for k in changed)
    raise UsageError(
        f"--output {output} holds rows made with other settings ({diffs}; see {last}): give a new "
        "--output, or --allow-changed-settings to continue (the new settings are then written beside)"
    )
