"""The answer parsers run in linear time: a degenerate generation cannot stall an evaluation.

Before the patterns were tempered, ``"<answer>" * 8000`` (64 kB) took 30 s and 240 kB over two minutes
(each unclosed opening tag made the engine rescan the rest of the text). The bound below is generous
for a slow shared machine and still fails by far on the quadratic case.
"""

from __future__ import annotations

import time

import pytest

from crabplus.schema.registry import DATASETS
from crabplus.tasks.parsers import MAX_TEXT_CHARS, parse_prediction

DEGENERATE = [
    "<answer>",
    "<event>",
    "<audio>",
    "<visual_event>",
    "event: a ",
    "sounding object is ",
    "[1,",
    "<obj>(1,2)",
    "<answer>x</answe",
]


@pytest.mark.parametrize("unit", DEGENERATE)
def test_a_240_kb_degenerate_text_parses_in_well_under_a_second_per_dataset(unit):
    text = unit * (240_000 // len(unit))
    t0 = time.perf_counter()
    for name in DATASETS:
        pred = parse_prediction(name, text)
        assert any("only its start was parsed" in n for n in pred.notes)
    assert time.perf_counter() - t0 < 2.0 * len(DATASETS) / 4  # ~0.5 s per dataset at most


def test_long_texts_inside_the_bound_still_parse_their_answer():
    text = "x " * (MAX_TEXT_CHARS // 4) + "<answer>dog</answer>"
    pred = parse_prediction("ks", text)
    assert pred.parsed and pred.label == "dog" and not pred.notes
    unclosed_then_closed = "<answer>" * 1000 + "<answer>cat</answer>"
    assert parse_prediction("ks", unclosed_then_closed).label == "cat"
