"""Exact expected interpolated AP when predictions with equal scores are visited in random order.

Why: the UnAV-100 official code ranks predictions with ``argsort()[::-1]``, which numpy does not define
for equal scores (numpy 2's SIMD sort is not stable even for 4 elements), and our scorer gives the
i-th event of every answer the same score 1 / (1 + i), so ties are the norm. The official number is
therefore undefined under ties; we report the AP averaged over every order of each tied block, each
order equally likely, computed exactly (no sampling).

Setting. The ranked list is cut into blocks of equal score (descending). Block b holds ``m_b``
true positives and ``f_b`` false positives whose labels do not depend on the order inside the block
(the caller guarantees it: see :func:`crabplus.metrics.tiou.tiou_map`), so a uniformly random order
of the block is a uniformly random arrangement of m_b ones and f_b zeros, independently per block.

The VOC all-point AP equals (1 / npos) * sum over true positives k of max_{j >= k} P_j, where P_j is
the precision after rank j. For a true positive k in block b, write S_k for the largest precision
from k to the end of block b and M_b for the largest precision over all later blocks. S_k depends on
block b's arrangement only and M_b on the later blocks' only, so (values lie in [0, 1])

    E[sum_{k in b} max(S_k, M_b)] = integral_0^1 (m_b - G_b(y) * F_b(y)) dy

with G_b(y) = E[#true positives of block b with S_k <= y] and F_b(y) = P(M_b <= y) = product over
later blocks b' of the probability that block b' never rises above y. Both are step functions whose
steps lie at the precision values the lattice paths can take, so the integral is a finite sum.
G_b and the "never above y" probabilities come from one backward pass over the block's lattice of
(true positives so far, false positives so far), anti-diagonal by anti-diagonal, for all step values
at once: O(m_b * f_b * K_b) for K_b <= (m_b + 1)(f_b + 1) distinct precision values. A block of
one prediction (distinct scores) costs O(1) and the result is then the plain AP.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _block_precisions(t0: int, f0: int, m: int, f: int) -> np.ndarray:
    """Precision [m + 1, f + 1] at each lattice point (a, c) of a block after t0 TPs and f0 FPs."""
    a = np.arange(m + 1)[:, None]
    c = np.arange(f + 1)[None, :]
    total = t0 + f0 + a + c
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(total > 0, (t0 + a) / np.maximum(total, 1), 0.0)
    return p


def _block_steps(t0: int, f0: int, m: int, f: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For one block: its step values v [K] (sorted), G(v) [K] and stay(v) [K].

    G(v): expected number of the block's true positives whose precision stays <= v from themselves to
    the end of the block; stay(v): probability that no point of the block (after its start) exceeds v.
    """
    p = _block_precisions(t0, f0, m, f)  # [m + 1, f + 1]
    points = p.copy()
    points[0, 0] = -1.0  # the block's start belongs to the previous block
    values = np.unique(points[points >= 0])  # [K]
    n = m + f
    total_paths = math.comb(n, m)
    g = np.zeros(values.size)
    # r_incl[a] over the current anti-diagonal a + c = s: P(path from (a, c) stays <= v, (a, c) included)
    r_next: dict[int, np.ndarray] = {}
    for s in range(n, -1, -1):
        r_cur: dict[int, np.ndarray] = {}
        for a in range(max(0, s - f), min(m, s) + 1):
            c = s - a
            rem = n - s
            if rem == 0:
                after = np.ones(values.size)
            else:
                after = np.zeros(values.size)
                if a < m:
                    after += (m - a) / rem * r_next[a + 1]
                if c < f:
                    after += (f - c) / rem * r_next[a]
            if s == 0:
                return values, g, after
            incl = after * (p[a, c] <= values)
            r_cur[a] = incl
            if a >= 1:  # reached by a true-positive step from (a - 1, c)
                ways = math.comb(s - 1, c) * math.comb(rem, f - c)
                g += (ways / total_paths) * incl
        r_next = r_cur
    raise AssertionError("unreachable")


def tie_averaged_ap(blocks: Sequence[tuple[int, int]], npos: int) -> float:
    """Expected VOC all-point AP over uniformly random orders inside each block.

    ``blocks``: (true positives, false positives) per block of equal score, in descending score order;
    ``npos``: the number of ground truths (recall = TP / npos).
    """
    if npos <= 0:
        raise ValueError(f"tie_averaged_ap: npos must be > 0, got {npos}")
    blocks = [(int(m), int(f)) for m, f in blocks if m + f > 0]
    if sum(m for m, _ in blocks) > npos:
        raise ValueError("tie_averaged_ap: more true positives than ground truths")
    steps = []
    t0 = f0 = 0
    for m, f in blocks:
        steps.append(_block_steps(t0, f0, m, f))
        t0, f0 = t0 + m, f0 + f
    grid = np.unique(np.concatenate([[0.0, 1.0]] + [v for v, _, _ in steps]))  # [Y] all step positions
    left, width = grid[:-1], np.diff(grid)  # each interval [Y_i, Y_i+1) and its length
    below_later = np.ones(left.size)  # F_b(y): no later block rises above y
    total = 0.0
    for (m, _), (values, g, stay) in zip(reversed(blocks), reversed(steps)):
        idx = np.searchsorted(values, left, side="right") - 1  # the last step value <= y, -1: none
        ok = idx >= 0
        g_y = np.where(ok, g[np.maximum(idx, 0)], 0.0)
        stay_y = np.where(ok, stay[np.maximum(idx, 0)], 0.0)
        if m:
            total += float(np.sum(width * (m - g_y * below_later)))
        below_later = below_later * stay_y
    return total / npos
