"""The golden values (tests/goldens/, written by scripts/make_goldens.py, never by hand) recomputed: a tiny
I-LoRA run's loss curve and every number of an evaluation report. A change that moves one of them fails here;
if the move is intended, regenerate the goldens with the script and say why in the commit."""

from __future__ import annotations

import pytest
from helpers.goldens import SYNTH, loss_curve, make_synth, read_golden, report_numbers

# The losses are float32 sums and products reduced in float64: bitwise equal run to run on one machine (one
# thread, checked by running the script twice), but another CPU's kernels (AVX2 vs AVX-512 in oneDNN/MKL) round
# float32 differently at ~1e-7 per operation, which four optimizer steps keep far below 1e-5. A real change (a
# token, an initial weight, the learning rate, the loss mask) moves the first loss by much more than that.
REL = 1e-5


@pytest.fixture(scope="module")
def curve(tmp_path_factory):
    return loss_curve(make_synth(tmp_path_factory.mktemp("golden-synth")))


@pytest.mark.integration  # trains (a few seconds)
def test_the_loss_curve_is_the_golden_one(curve):
    golden = read_golden("loss_curve")
    assert len(curve["loss"]) == len(golden["loss"]) == 4 and SYNTH["datasets"] == ["s4", "cremad"]
    assert curve["loss"] == pytest.approx(golden["loss"], rel=REL)
    assert curve["grad_norm"] == pytest.approx(golden["grad_norm"], rel=REL)
    assert [sorted(step) for step in curve["loss_per_task"]] == [sorted(step) for step in golden["loss_per_task"]]
    for got, want in zip(curve["loss_per_task"], golden["loss_per_task"]):
        assert got == pytest.approx(want, rel=REL)


def test_the_report_numbers_are_the_golden_ones():
    """Exact: scoring is deterministic arithmetic on fixed inputs (chance draws come from a fixed seed)."""
    got, golden = report_numbers(), read_golden("report")
    assert sorted(got) == sorted(golden), "the report's rows or keys changed"
    changed = {key: (golden[key], got[key]) for key in golden if got[key] != golden[key]}
    assert not changed, f"report numbers moved (golden, now): {changed}"
