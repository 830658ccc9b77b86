import pytest

from crabplus.evaluate.proportion import wilson_interval


def test_wilson_matches_the_closed_form_on_known_counts():
    # 34 of 40 (the shipped base's colour): scipy.stats.binomtest(34, 40).proportion_ci(method="wilson")
    assert wilson_interval(34, 40) == pytest.approx((0.709277, 0.929388), abs=1e-6)
    # 0 and n of n stay inside [0, 1] and are not a point
    low, high = wilson_interval(0, 40)
    assert low == 0.0 and high == pytest.approx(0.087622, abs=1e-6)
    low, high = wilson_interval(40, 40)
    assert high == 1.0 and low == pytest.approx(0.912378, abs=1e-6)


def test_wilson_narrows_with_more_questions():
    small = wilson_interval(17, 20)
    large = wilson_interval(170, 200)
    assert small[0] < large[0] < 0.85 < large[1] < small[1]


@pytest.mark.parametrize("successes,n", [(1, 0), (-1, 5), (6, 5)])
def test_wilson_rejects_impossible_counts(successes, n):
    with pytest.raises(ValueError, match="wilson_interval"):
        wilson_interval(successes, n)
