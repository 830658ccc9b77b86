"""The golden values (tests/goldens/, written by scripts/make_goldens.py, never by hand) recomputed: a tiny
I-LoRA run's loss curve and every number of an evaluation report. A change that moves one of them fails here;
if the move is intended, regenerate the goldens with the script and say why in the commit."""

from __future__ import annotations

import pytest
from helpers.goldens import STEPS, SYNTH, curve_differences, loss_curve, make_synth, read_golden, report_numbers


@pytest.fixture(scope="module")
def curve(tmp_path_factory):
    return loss_curve(make_synth(tmp_path_factory.mktemp("golden-synth")))


@pytest.mark.integration  # trains (a few seconds)
def test_the_loss_curve_is_the_golden_one(curve):
    """To REL relative (helpers/goldens.py says why not exactly), with the rule scripts/make_goldens.py checks."""
    golden = read_golden("loss_curve")
    assert len(curve["loss"]) == len(golden["loss"]) == STEPS and SYNTH["datasets"] == ["s4", "cremad"]
    moved = curve_differences(curve, golden)
    assert not moved, "the loss curve moved:\n" + "\n".join(moved)


def test_the_report_numbers_are_the_golden_ones():
    """Exact: scoring is deterministic arithmetic on fixed inputs (chance draws come from a fixed seed)."""
    got, golden = report_numbers(), read_golden("report")
    assert sorted(got) == sorted(golden), "the report's rows or keys changed"
    changed = {key: (golden[key], got[key]) for key in golden if got[key] != golden[key]}
    assert not changed, f"report numbers moved (golden, now): {changed}"
