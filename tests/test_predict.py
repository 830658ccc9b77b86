"""Prediction: batches over records (left-padded, routing per sample) and one's own AVSynth clip."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from crabplus.cli.main import main
from crabplus.infer import Predictor, build_record, predict, predict_records, write_mask, write_predictions
from crabplus.schema.records import load_records
from crabplus.schema.rows import PredictionRow
from crabplus.tasks.parsers import parse_prediction
from crabplus.train import train
from crabplus.train.run_config import load_config

pytestmark = pytest.mark.integration  # trains a checkpoint, then predicts with it through every path

NEW_TOKENS = 6


@pytest.fixture(scope="module")
def world(small_avsynth, tmp_path_factory):
    """The small AVSynth set and an I-LoRA model trained one step on it (a random tiny base)."""
    root = small_avsynth
    cfg = load_config(
        None,
        [
            f"data.train=[{root}]",
            f"data.root={root}",
            "data.image_size=56",
            f"output_dir={tmp_path_factory.mktemp('run')}",
            "model.ilora.rank=4",
            "model.ilora.alpha=8",
            "train.batch_size=2",
            "train.max_steps=1",
        ],
    )
    result = train(cfg)
    records = load_records(root / "s4" / "test.jsonl") + load_records(root / "cremad" / "test.jsonl")
    return root, result.checkpoint, records, Predictor.from_checkpoint(result.checkpoint)


def test_rows_follow_the_records_with_routing_per_layer(world, tmp_path):
    root, _, records, predictor = world
    rows = predict_records(predictor, records, root, batch_size=2, max_new_tokens=NEW_TOKENS, progress=False)
    assert [(r.id, r.dataset) for r in rows] == [(r.id, r.dataset) for r in records]
    for row in rows:
        assert isinstance(row.predict, str)
        assert row.routing and all(k.endswith("_proj") for k in row.routing)
        for weights in row.routing.values():
            assert len(weights) == 3 and sum(weights) == pytest.approx(1.0, abs=1e-5)
    # the two samples were routed differently (different prompts, different media)
    first = next(iter(rows[0].routing))
    assert rows[0].routing[first] != rows[1].routing[first]
    path = write_predictions(tmp_path / "preds.jsonl", rows)
    assert [PredictionRow.from_json(json.loads(line)) for line in path.read_text().splitlines()] == rows


def test_a_sample_gets_the_same_answer_alone_and_in_a_left_padded_batch(world):
    root, _, records, predictor = world
    batched = predict_records(
        predictor, records, root, batch_size=2, max_new_tokens=NEW_TOKENS, progress=False, record_routing=False
    )
    alone = predict_records(
        predictor, records, root, batch_size=1, max_new_tokens=NEW_TOKENS, progress=False, record_routing=False
    )
    assert [r.predict for r in batched] == [r.predict for r in alone]
    assert all(r.routing == {} for r in batched)


def test_predict_on_a_clip_equals_predicting_its_record(world, tmp_path):
    root, checkpoint, records, predictor = world
    record = next(r for r in records if r.dataset == "cremad")
    expected = predict_records(predictor, [record], root, max_new_tokens=NEW_TOKENS, progress=False)[0]
    result = predict(
        root / record.media.video, task="cremad", predictor=predictor, max_new_tokens=NEW_TOKENS, out=tmp_path
    )
    assert result.text == expected.predict and result.mask_path is None
    assert result.prediction == parse_prediction("cremad", result.text)
    saved = json.loads((tmp_path / f"{(root / record.media.video).stem}.cremad.json").read_text())
    assert saved["text"] == result.text and saved["dataset"] == "cremad"


def test_segmentation_writes_a_mask_at_the_source_size(world, tmp_path):
    root, checkpoint, records, predictor = world
    record = next(r for r in records if r.dataset == "s4")
    image, audio = root / record.media.image, root / record.media.audio
    # an image task on a still frame: the audio window is the fifth the frame falls in
    built, built_root = build_record("s4", image, audio=audio, frame_second=float(record.media.audio_window_index))
    assert built.media.image and built.media.audio_window_index == record.media.audio_window_index
    result = predict(
        image,
        task="s4",
        audio=audio,
        predictor=predictor,
        max_new_tokens=NEW_TOKENS,
        out=tmp_path,
        frame_second=float(record.media.audio_window_index),
    )
    mask = np.array(Image.open(result.mask_path))
    width, height = Image.open(image).size
    assert mask.shape == (height, width) and set(np.unique(mask)) <= {0, 255}
    # with the true box and points (what a trained model writes) GrabCut finds the object inside the box
    truth = parse_prediction("s4", record.target)
    path = write_mask(built, built_root, truth, tmp_path / "truth")
    mask = np.array(Image.open(path).resize((224, 224), Image.Resampling.NEAREST)) > 0  # back to the box's space
    x1, y1, x2, y2 = truth.box
    inside = mask[y1:y2, x1:x2].sum()
    assert inside > 0.9 * mask.sum() and inside > 0.2 * (x2 - x1) * (y2 - y1)


def test_a_box_only_task_writes_no_mask(world, tmp_path):
    """Whether an answer becomes a mask is its family's to say: ARIG is a segmentation task scored on boxes."""
    root, _, records, predictor = world
    record = next(r for r in records if r.dataset == "s4")
    result = predict(
        root / record.media.image,
        task="arig",
        audio=root / record.media.audio,
        predictor=predictor,
        max_new_tokens=NEW_TOKENS,
        out=tmp_path,
        frame_second=float(record.media.audio_window_index),
    )
    assert result.mask_path is None and not list(tmp_path.glob("*.png"))


def test_cli_predict_prints_answer_and_prediction(world, capsys, tmp_path):
    root, checkpoint, records, _ = world
    clip = root / next(r for r in records if r.dataset == "cremad").media.video
    assert (
        main(
            [
                "predict",
                str(clip),
                "--task",
                "cremad",
                "--checkpoint",
                str(checkpoint),
                "--max-new-tokens",
                str(NEW_TOKENS),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("answer: ") and "prediction: {" in out and '"parsed"' in out
    assert main(["predict", str(clip), "--task", "avqa", "--checkpoint", str(checkpoint)]) == 2
    assert "needs --question" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "missing.mp4"), "--task", "ks", "--checkpoint", str(checkpoint)]) == 2
    assert "not found" in capsys.readouterr().err


def test_a_mask_goes_back_to_a_non_square_frame_and_an_empty_answer_says_so(world, tmp_path):
    root, _, records, _ = world
    record = next(r for r in records if r.dataset == "s4")
    wide = tmp_path / "wide.png"
    Image.open(root / record.media.image).convert("RGB").resize((96, 40)).save(wide)
    built, built_root = build_record("s4", wide, audio=root / record.media.audio, frame_second=0.0)
    truth = parse_prediction("s4", record.target)
    mask = np.array(Image.open(write_mask(built, built_root, truth, tmp_path / "a")))
    assert mask.shape == (40, 96) and (mask > 0).any()
    assert any("squashed to 224x224" in note for note in truth.notes)
    nothing = parse_prediction("s4", "I cannot tell")
    empty = np.array(Image.open(write_mask(built, built_root, nothing, tmp_path / "b")))
    assert empty.shape == (40, 96) and not empty.any()
    assert any("no box or points" in note for note in nothing.notes)
