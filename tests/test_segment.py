"""Segmenters: GrabCut (embedded default) on drawn images; SAM 2 through transformers with a tiny random config."""

from __future__ import annotations

import numpy as np
import pytest

from crabplus.segment import (
    GrabCutSegmenter,
    Sam2Segmenter,
    SegmenterError,
    box_mask,
    build_segmenter,
    scale_box,
    scale_points,
)


def _scene(h: int = 64, w: int = 80, box=(20, 16, 60, 48), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A red rectangle on a noisy green background, and its mask."""
    rng = np.random.default_rng(seed)
    image = np.empty((h, w, 3), dtype=np.int16)
    image[:] = (40, 140, 60)
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = (220, 40, 40)
    image += rng.integers(-12, 13, size=image.shape)
    mask = np.zeros((h, w), dtype=bool)
    mask[y1:y2, x1:x2] = True
    return np.clip(image, 0, 255).astype(np.uint8), mask


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / (a | b).sum()


def test_scaling_from_224_space():
    assert scale_box([56, 56, 168, 140], 64, 64) == (16, 16, 48, 40)
    assert scale_box([0, 0, 224, 224], 30, 50) == (0, 0, 50, 30)
    assert scale_box([10, 10, 10, 12], 64, 64) == (2, 2, 3, 4)  # at least one pixel of extent
    assert scale_box(None, 10, 10) is None
    assert scale_points([[0, 0], [223, 223], [111, 55]], 64, 128) == [(0, 0), (127, 63), (63, 15)]
    assert box_mask((1, 2, 3, 5), 6, 6).sum() == 2 * 3


def test_grabcut_recovers_the_object_from_a_loose_box():
    image, truth = _scene()
    seg = build_segmenter("grabcut")
    # pixel box (16, 12)-(64, 52) in a 80 x 64 image -> 224 space
    box = [round(16 * 224 / 80), round(12 * 224 / 64), round(64 * 224 / 80), round(52 * 224 / 64)]
    mask = seg.segment(image, box, [[112, 112]])
    assert mask.dtype == bool and mask.shape == (64, 80)
    assert _iou(mask, truth) > 0.9
    assert seg.last_fallback is None
    assert np.array_equal(mask, seg.segment(image, box, [[112, 112]]))  # seeded: deterministic


def test_grabcut_points_only_and_no_prompt():
    image, truth = _scene()
    seg = GrabCutSegmenter()
    mask = seg.segment(image, None, [[112, 112], [100, 90], [130, 120]])
    assert _iou(mask, truth) > 0.8
    assert not seg.segment(image, None, None).any()


def test_grabcut_falls_back_to_the_box_when_it_cannot_run():
    image, _ = _scene()
    seg = GrabCutSegmenter()
    mask = seg.segment(image, [0, 0, 224, 224], None)  # no background sample left
    assert mask.all() and seg.last_fallback == "box covers the whole image"


def test_bad_inputs():
    with pytest.raises(ValueError, match="uint8 RGB"):
        GrabCutSegmenter().segment(np.zeros((4, 4)), [0, 0, 10, 10], None)
    with pytest.raises(SegmenterError, match="unknown segmenter"):
        build_segmenter("watershed")
    with pytest.raises(SegmenterError, match="takes no checkpoint"):
        build_segmenter("grabcut", "x")


def _tiny_sam2(path):
    import torch
    from transformers import Sam2Config, Sam2Model

    config = Sam2Config(
        vision_config={
            "model_type": "sam2_vision_model",
            "backbone_config": {
                "model_type": "sam2_hiera_det_model",
                "hidden_size": 8,
                "num_attention_heads": 1,
                "image_size": [64, 64],
                "blocks_per_stage": [1, 1, 2, 1],
                "embed_dim_per_stage": [8, 16, 32, 64],
                "num_attention_heads_per_stage": [1, 1, 1, 1],
                "window_size_per_stage": [4, 4, 4, 2],
                "global_attention_blocks": [3],
                "window_positional_embedding_background_size": [2, 2],
            },
            "backbone_channel_list": [64, 32, 16, 8],
            "backbone_feature_sizes": [[16, 16], [8, 8], [4, 4]],
            "fpn_hidden_size": 32,
        },
        prompt_encoder_config={"hidden_size": 32, "image_size": 64, "patch_size": 16, "mask_input_channels": 4},
        mask_decoder_config={"hidden_size": 32, "mlp_dim": 64, "num_attention_heads": 2, "iou_head_hidden_dim": 32},
    )
    torch.manual_seed(0)
    model = Sam2Model(config).eval()
    model.save_pretrained(path)
    return model


def test_sam2_from_a_local_folder(tmp_path):
    import torch

    model = _tiny_sam2(tmp_path / "sam2")
    seg = build_segmenter("sam2", str(tmp_path / "sam2"))
    assert isinstance(seg, Sam2Segmenter) and seg.side == 64
    image, _ = _scene(48, 40)
    box, points = [20, 30, 180, 200], [[100, 110], [60, 80]]
    mask = seg.segment(image, box, points)
    assert mask.dtype == bool and mask.shape == (48, 40)
    # the cached-embedding path equals one full forward of the same model on the same inputs
    with torch.no_grad():
        out = model(
            pixel_values=seg._pixels(image),
            input_boxes=torch.tensor([[box]], dtype=torch.float32) * 64 / 224,
            input_points=torch.tensor([[points]], dtype=torch.float32) * 64 / 224,
            input_labels=torch.ones(1, 1, 2, dtype=torch.long),
            multimask_output=False,
        )
    low = out.pred_masks[:, 0, :1]
    full = torch.nn.functional.interpolate(low, size=(48, 40), mode="bilinear", align_corners=False)[0, 0] > 0
    assert np.array_equal(mask, full.numpy())
    assert not seg.segment(image, None, None).any()
    assert seg.segment(image, None, [[100, 100]]).shape == (48, 40)  # points alone are a prompt


def test_sam2_checkpoint_errors(tmp_path):
    with pytest.raises(SegmenterError, match="needs --sam2-checkpoint"):
        build_segmenter("sam2", None)
    with pytest.raises(SegmenterError, match="directory not found"):
        build_segmenter("sam2", str(tmp_path / "missing"))
    (tmp_path / "orig").mkdir()
    (tmp_path / "orig" / "sam2.1_hiera_large.pt").write_bytes(b"\0")
    with pytest.raises(SegmenterError, match="no config.json"):
        build_segmenter("sam2", str(tmp_path / "orig"))


def test_eval_with_sam2_from_the_command_line(tmp_path, capsys):
    import json
    from pathlib import Path

    from crabplus.cli import main

    fix = Path(__file__).parent / "fixtures" / "eval"
    _tiny_sam2(tmp_path / "sam2")
    lines = [
        line
        for line in (fix / "records.jsonl").read_text().splitlines()
        if '"dataset": "s4"' in line or '"dataset": "ref_avs"' in line
    ]
    (tmp_path / "records.jsonl").write_text("\n".join(lines) + "\n")
    code = main(
        [
            "eval",
            "--predictions",
            str(fix / "predictions.jsonl"),
            "--data",
            str(tmp_path / "records.jsonl"),
            "--root",
            str(fix),
            "--out",
            str(tmp_path / "out"),
            "--segmenter",
            "sam2",
            "--sam2-checkpoint",
            str(tmp_path / "sam2"),
        ]
    )
    assert code == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["config"]["segmenter"] == "sam2" and set(report["datasets"]) == {"s4", "ref_avs"}
    assert 0.0 <= report["datasets"]["s4"]["metrics"]["miou"] <= 1.0  # random weights: any mask, real pipeline
    assert report["summary"]["unknown_predictions"] == 52 - 8
    capsys.readouterr()
    code = main(
        [
            "eval",
            "--predictions",
            str(fix / "predictions.jsonl"),
            "--data",
            str(tmp_path / "records.jsonl"),
            "--segmenter",
            "sam2",
            "--sam2-checkpoint",
            str(tmp_path / "nope"),
        ]
    )
    assert code == 2 and "SAM 2 checkpoint directory not found" in capsys.readouterr().err
