"""Each mirror dataset's backgrounds carry its own tint, so datasets that share an instruction look apart."""

from __future__ import annotations

import itertools

import numpy as np

from crabplus.schema.registry import RELEASE_DATASETS, get_spec
from crabplus.synth.datasets.common import background
from crabplus.synth.studio import STUDIO_TINT, studio_tint


def test_datasets_sharing_an_instruction_get_clearly_different_tints():
    by_instruction: dict[str, list[str]] = {}
    for name in RELEASE_DATASETS:
        by_instruction.setdefault(get_spec(name).instruction, []).append(name)
    pairs = [p for names in by_instruction.values() for p in itertools.combinations(names, 2)]
    assert ("ks", "ucf") in pairs and ("ave", "unav") in pairs and ("s4", "ms3") in pairs
    for a, b in pairs:
        gap = np.abs(studio_tint(a) - studio_tint(b)).max()
        assert gap >= STUDIO_TINT, (a, b, studio_tint(a), studio_tint(b))


def test_a_background_keeps_its_datasets_tint_under_the_random_variation():
    """The colour cast (channel minus channel mean) of many random backgrounds points the dataset's way."""
    rng = np.random.default_rng(0)
    for name in ("ks", "ucf"):
        casts = []
        for _ in range(200):
            top, _ = background(rng, name)
            top = np.array(top, dtype=float)
            casts.append(top - top.mean())
        tint = studio_tint(name).astype(float)
        assert np.dot(np.mean(casts, axis=0), tint - tint.mean()) > 0.5 * np.dot(tint - tint.mean(), tint - tint.mean())


def test_no_dataset_means_no_tint():
    assert studio_tint(None).tolist() == [0, 0, 0]
