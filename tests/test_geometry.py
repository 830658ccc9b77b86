"""The 224-pixel space and the one mask -> box + 3 points rule (crabplus.schema.geometry): every box
holds its points, everything stays inside the space, and hand-made masks give the boxes they must."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crabplus.schema.geometry import SPACE, box_inside, clip_box, clip_point, mask_box_points, point_inside


def _check(box, points, mask):
    """The rule's contract on ``mask`` [S, S]: box inside the space, 3 points inside the box, and each point
    mapping back (224 -> S) onto a mask pixel."""
    assert box_inside(box), box
    assert len(points) == 3
    scale = mask.shape[0] / SPACE
    for x, y in points:
        assert point_inside(x, y)
        assert box[0] <= x < box[2] and box[1] <= y < box[3], (box, x, y)
        assert mask[int(y * scale), int(x * scale)], (x, y)


def test_rectangle_box_is_exact_and_points_interior():
    mask = np.zeros((SPACE, SPACE), bool)
    mask[40:100, 10:70] = True  # rows 40..99, columns 10..69
    box, points = mask_box_points(mask)
    assert box == [10, 40, 70, 100]  # exclusive ends: the box fills exactly the mask
    _check(box, points, mask)
    # the first point is the deepest pixel: the square's centre region, 30 pixels from every side
    assert abs(points[0][0] - 39.5) <= 1 and abs(points[0][1] - 69.5) <= 1


def test_small_masks_scale_to_the_space_and_the_border_counts_as_background():
    mask = np.zeros((56, 56), bool)
    mask[0:10, 46:56] = True  # a corner square touching two image borders
    box, points = mask_box_points(mask)
    assert box == [184, 0, 224, 40]  # 224 / 56 = 4 pixels per mask pixel
    _check(box, points, mask)
    # the deepest pixel counts the image border as background: it is in the middle, not at the edge
    assert 196 <= points[0][0] <= 212 and 12 <= points[0][1] <= 28


def test_one_pixel_and_empty_masks():
    tiny = np.zeros((SPACE, SPACE), bool)
    tiny[5, 7] = True
    assert mask_box_points(tiny) == ([7, 5, 8, 6], [[7, 5]] * 3)
    with pytest.raises(ValueError, match="empty mask"):
        mask_box_points(np.zeros((SPACE, SPACE), bool))


def test_the_rule_is_a_function_of_the_mask_without_a_generator_and_follows_a_given_one():
    mask = np.zeros((SPACE, SPACE), bool)
    mask[20:200, 30:90] = True
    assert mask_box_points(mask) == mask_box_points(mask)
    a = mask_box_points(mask, np.random.default_rng(5))
    b = mask_box_points(mask, np.random.default_rng(5))
    assert a == b


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    side=st.sampled_from([28, 56, 112, 224]),
    x=st.floats(0, 1),
    y=st.floats(0, 1),
    w=st.floats(0.02, 1),
    h=st.floats(0.02, 1),
    seed=st.integers(0, 2**16),
)
def test_any_rectangle_at_any_side_keeps_the_contract(side, x, y, w, h, seed):
    mask = np.zeros((side, side), bool)
    x1, y1 = int(x * (side - 1)), int(y * (side - 1))
    mask[y1 : y1 + max(1, int(h * side)), x1 : x1 + max(1, int(w * side))] = True
    box, points = mask_box_points(mask, np.random.default_rng(seed))
    _check(box, points, mask)


@given(st.lists(st.floats(-500, 800, allow_nan=False), min_size=4, max_size=4))
def test_clip_box_is_inside_or_none(values):
    box = clip_box(values)
    assert box is None or box_inside(box)


@given(st.floats(-1e4, 1e4, allow_nan=False), st.floats(-1e4, 1e4, allow_nan=False))
def test_clip_point_is_a_pixel_of_the_space(x, y):
    assert point_inside(*clip_point(x, y))


def test_clip_box_examples():
    assert clip_box([-5, 10.4, 300, 20.6]) == [0, 10, SPACE, 21]
    assert clip_box([230, 0, 300, 10]) is None  # wholly outside: nothing left
    assert clip_box([10, 10, 10, 20]) is None  # no width
