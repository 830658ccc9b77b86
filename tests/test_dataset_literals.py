"""A dataset is named in four places only: the registry, the answer families, AVSynth's mirror datasets and the
importers of the real ones. Anywhere else a string equal to a dataset name is a per-dataset branch that a new
benchmark would have to find and edit; this test reads every string constant of the package and fails on one."""

from __future__ import annotations

import ast
from pathlib import Path

from crabplus.schema.registry import DATASETS

SRC = Path(__file__).resolve().parents[1] / "src" / "crabplus"
ALLOWED = ("schema/registry.py", "tasks/families/", "synth/datasets/", "data/importers/")


def literals_outside_allowed(src: Path = SRC) -> list[str]:
    found = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src).as_posix()
        if rel.startswith(ALLOWED):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in DATASETS:
                found.append(f"{rel}:{node.lineno}: {node.value!r}")
    return found


def test_dataset_names_appear_only_in_the_registry_families_synth_and_importers():
    assert literals_outside_allowed() == []


def test_the_scan_sees_a_literal(tmp_path):
    """The scan is not vacuous: a file with a dataset-name constant outside the allowed places is reported."""
    (tmp_path / "evaluate").mkdir()
    (tmp_path / "evaluate" / "x.py").write_text('if name == "avvp":\n    pass\n', encoding="utf-8")
    (tmp_path / "tasks" / "families").mkdir(parents=True)
    (tmp_path / "tasks" / "families" / "y.py").write_text('NAME = "avvp"\n', encoding="utf-8")
    assert literals_outside_allowed(tmp_path) == ["evaluate/x.py:1: 'avvp'"]
