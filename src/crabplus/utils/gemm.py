"""MKL's strict reproducibility mode, asked for before the first product of a process.

It lives here, below every layer, because the entry points that ask for it sit at different layers
(``crabplus predict``, the lmms-eval model); :mod:`crabplus.model.invariant` says why rows need it.
"""

from __future__ import annotations

import os

#: MKL's strict conditional-numerical-reproducibility mode on its AVX2 branch (any Intel CPU since 2013).
STRICT_GEMM = "AVX2,STRICT"


def request_strict_gemm() -> None:
    """Ask MKL for its strict reproducibility mode (:data:`STRICT_GEMM`) unless ``MKL_CBWR`` is set already. MKL
    reads it at its first product, so this is called before any model is built (``crabplus predict``); later it
    changes nothing, which :func:`crabplus.model.invariant.gemm_row_floor` then sees."""
    os.environ.setdefault("MKL_CBWR", STRICT_GEMM)
