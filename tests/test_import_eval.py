"""Imported records evaluate: the records' own targets, given as predictions, score the maximum of
every official metric (through ``crabplus.evaluate.report.evaluate_predictions``, with the embedded
GrabCut segmenter turning the stated boxes and points into masks)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.importdata import build_root, gt_files, media_templates  # noqa: F401
from PIL import Image

from crabplus.data.importers import import_avuie, load_binary_mask
from crabplus.evaluate.config import EvalConfig
from crabplus.evaluate.report import evaluate_predictions
from crabplus.schema.records import load_records

#: the best value of each headline metric (CIDEr-D is x10: identical captions score 10)
BEST = {"accuracy": 1.0, "uar": 1.0, "overall": 1.0, "avg_map": 1.0, "segment_type": 1.0, "cider": 10.0, "miou": 1.0}


def _draw_frames(root, records) -> None:
    """Make each segmentation frame show its object (bright on dark, like a real sounding object against
    the scene), so that a promptable segmenter given the right box and points can recover the mask."""
    rng = np.random.default_rng(0)
    for rec in records:
        if rec.answer.mask is None or rec.answer.exists is False:
            continue  # a null Ref-AVS expression shares its frame with a real one
        mask = load_binary_mask(root / rec.answer.mask, size=None)  # [H, W], the mask file's own size
        rgb = np.where(mask[..., None], np.array([230, 60, 40]), np.array([30, 40, 60]))  # [H, W, 3]
        rgb = rgb + rng.integers(0, 20, mask.shape + (3,))
        Image.fromarray(rgb.astype(np.uint8)).save(root / rec.media.image, quality=100, subsampling=0)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, media_templates):  # noqa: F811
    base = tmp_path_factory.mktemp("eval")
    root = build_root(base / "root", media_templates)
    import_avuie(root, base / "out", ground_truth=gt_files())
    # every test file, and the train files of the two tasks the release has no test for
    files = sorted((base / "out").glob("*/test.jsonl")) + [base / "out" / t / "train.jsonl" for t in ("mer24", "avcap")]
    records = [rec for path in files for rec in load_records(path)]
    _draw_frames(root, records)
    predictions = [{"id": r.id, "dataset": r.dataset, "predict": r.target} for r in records]
    # METEOR (a Java jar, seconds of start-up) is left out of the fast tier; PTB tokenisation stays
    # perfect predictions are the point here, not chance: one chance draw keeps GrabCut off the clock
    return records, evaluate_predictions(records, predictions, root, config=EvalConfig(meteor=False, chance_draws=1))


def test_every_dataset_is_scored(evaluated):
    records, report = evaluated
    assert sorted(report.datasets) == sorted({r.dataset for r in records})
    assert len(report.datasets) == 19  # all task flags (unav test from the UnAV-100 JSON)
    assert report.summary.unparsed == 0 and report.summary.scored == len(records)


def test_perfect_predictions_score_the_maximum(evaluated):
    _, report = evaluated
    for name, row in report.datasets.items():
        assert row.primary == pytest.approx(BEST[row.primary_metric]), (name, row.metrics)
    m = {name: row.metrics for name, row in report.datasets.items()}
    assert m["mafw"]["war"] == 1.0
    assert m["avqa"]["Audio-Visual/Counting"] == 1.0  # question types from the benchmark JSON
    assert all(v == pytest.approx(1.0) for v in m["avvp"].values())
    assert all(v == pytest.approx(1.0) for v in m["unav"].values())
    for name in ("s4", "ms3", "ref_avs"):
        assert m[name]["fscore"] == pytest.approx(1.0), name
    assert m["ref_avs"]["null_s"] == 0.0 and m["ref_avs"]["exists_accuracy"] == 1.0
    assert m["arig"]["success@0.5"] == 1.0
    assert m["avcap"]["bleu4"] == pytest.approx(1.0)
