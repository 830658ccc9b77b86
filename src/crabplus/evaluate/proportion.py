"""The 95 % Wilson score interval of an accuracy: how far a held-out share of right answers can be trusted.

Written out here (five lines of closed form) rather than taken from scipy or statsmodels, neither of which
the project depends on. Wilson rather than the normal approximation because the benchmarks' accuracies sit
near 0 and 1 with 40 questions, where ``p ± 1.96·sqrt(p(1-p)/n)`` leaves [0, 1] or shrinks to a point.
"""

from __future__ import annotations

import math

Z975 = 1.959963984540054  # the standard normal's 97.5 % quantile


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """(low, high) of the two-sided 95 % Wilson score interval for ``successes`` right answers of ``n``."""
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"wilson_interval: need 0 <= successes <= n and n >= 1, got {successes} of {n}")
    p = successes / n
    z2 = Z975 * Z975
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z975 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)
