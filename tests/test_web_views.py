"""The demo page's pieces without a browser: routing chips per layer and token, the mask overlay, the events
timeline, and input errors that read as the CLI's."""

from __future__ import annotations

import numpy as np
import pytest

from crabplus.infer import PredictInputError, build_record
from crabplus.schema.records import Event
from crabplus.web.answer import RoutedAnswer, layer_groups
from crabplus.web.app import TASK_CHOICES, DemoInputError, run_request, task_name
from crabplus.web.views import mix, overlay, routing_html, timeline_html


def test_routing_html_has_one_chip_per_layer_and_token_coloured_by_the_strongest_head():
    answer = RoutedAnswer(
        text="a cat",
        tokens=["a", " cat"],
        layers=["layer 0", "layer 1"],
        weights=[[[0.9, 0.05, 0.05], [1 / 3, 1 / 3, 1 / 3]], [[0.1, 0.1, 0.8], [0.2, 0.5, 0.3]]],
    )
    page = routing_html(answer)
    assert page.count("class='crab-token'") == 4 and "layer 1" in page
    assert "head 1: 0.90, head 2: 0.05, head 3: 0.05" in page
    assert mix([0.9, 0.05, 0.05]) == "rgba(230,80,60,0.87)"  # head 1, 85 % dominant
    assert mix([1 / 3, 1 / 3, 1 / 3]).endswith(",0.15)")  # uniform: faint
    assert mix([0.1, 0.1, 0.8]).startswith("rgba(70,180,90,")  # head 3
    assert "No I-LoRA routing" in routing_html(RoutedAnswer(text=""))


def test_layer_groups_keep_llm_layers_in_order():
    names = [
        "model.language_model.layers.1.mlp.up_proj",
        "model.language_model.layers.0.self_attn.q_proj",
        "model.language_model.layers.1.self_attn.q_proj",
        "model.audio_tower.layers.0.self_attn.q_proj",
    ]
    assert layer_groups(names) == {0: [names[1]], 1: [names[0], names[2]]}
    modular = [
        "language_model.model.layers.0.mlp.up_proj",
        "visual.encoder.layers.0.self_attn.q_proj",
        "audio_tower.layers.1.self_attn.q_proj",
    ]  # the modular family's names: encoders at the top
    assert layer_groups(modular) == {0: [modular[0]]}


def test_overlay_tints_the_mask_and_draws_box_and_points():
    frame = np.zeros((224, 224, 3), dtype=np.uint8)
    mask = np.zeros((224, 224), dtype=bool)
    mask[50:60, 50:60] = True
    out = overlay(frame, mask, box=[40, 40, 100, 100], points=[[150, 150]])
    assert out[55, 55].tolist() == [127, 20, 100]  # half the mask colour over black
    assert out[40, 70].tolist() == [255, 230, 0] and out[150, 150].tolist() == [0, 255, 255]
    assert out[120, 120].tolist() == [0, 0, 0]


def test_timeline_places_events_on_the_clip_axis():
    html = timeline_html({"events": [Event("dog", 2.0, 5.0)], "audio_events": None}, duration=10.0)
    assert "left:20.00%" in html and "width:30.00%" in html and "dog" in html
    assert "No events" in timeline_html({"events": []}, 10.0)


def test_task_choices_cover_every_dataset_and_the_free_question():
    assert task_name(TASK_CHOICES[0]) == "avqa" and len(TASK_CHOICES) == 20
    assert [task_name(c) for c in TASK_CHOICES[1:3]] == ["ks", "ucf"]


def test_a_bad_upload_reads_as_the_cli_error(tmp_path):
    with pytest.raises(PredictInputError) as cli:
        build_record("ks", tmp_path / "gone.mp4")
    with pytest.raises(DemoInputError) as page:
        run_request(None, tmp_path, TASK_CHOICES[1], str(tmp_path / "gone.mp4"))
    assert str(page.value) == str(cli.value)
    assert str(tmp_path / "gone.mp4") in str(page.value) and "not found" in str(page.value)
    with pytest.raises(DemoInputError, match="needs --question"):
        clip = tmp_path / "clip.mp4"
        clip.write_bytes(b"x")
        run_request(None, tmp_path, TASK_CHOICES[0], str(clip))


def test_the_page_shows_the_clis_notes_and_the_frame_at_its_aspect_ratio(tmp_path):
    """A wide video without an audio track on a segmentation task: the page's notes are the CLI's, word for
    word, and the overlay is as wide as the video (it was the model's 224 x 224 square)."""
    import torch
    from helpers.media import write_clip
    from helpers.model import tiny_model_config, tiny_tokenizer

    from crabplus.infer import Predictor, predict
    from crabplus.model import attach_adapter, build_thinker

    tok, cfg = tiny_tokenizer(), tiny_model_config()
    torch.manual_seed(0)
    predictor = Predictor.from_model(attach_adapter(build_thinker(cfg, tok), cfg), tok, cfg, image_size=56)
    clip = write_clip(tmp_path / "wide.mp4", seconds=1.0, width=96, height=48, audio=False)
    page = run_request(
        predictor, tmp_path, next(c for c in TASK_CHOICES if c.startswith("s4 ")), str(clip), max_new_tokens=8
    )
    cli = predict(clip, task="s4", predictor=predictor, max_new_tokens=8, out=tmp_path / "cli")
    assert page["notes"] == cli.prediction.notes
    assert any("no audio track" in n for n in page["notes"]) and any("96x48" in n for n in page["notes"])
    assert page["overlay"].shape == (48, 96, 3)
    assert "overflow-x:auto" in page["routing"]
