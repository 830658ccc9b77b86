"""Backbone builders: presets, the tiny model's size and token layout, loading a (fake, tiny) release
directory with the release's key names and a talker, and the errors for what does not fit."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from helpers.model import batch_of, tiny_model_config, tiny_tokenizer
from safetensors.torch import save_file
from transformers import Qwen2_5OmniConfig

from crabplus.adapters.official import OURS_TO_RELEASE, rename_path
from crabplus.model import PRESETS, CheckpointError, ThinkerDims, build_thinker, build_thinker_config
from crabplus.schema.tokens import special_token_ids


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def tiny(tok):
    torch.manual_seed(0)
    return build_thinker(tiny_model_config(), tok)


def test_tiny_preset_is_small_and_wired_to_the_tokenizer(tiny, tok):
    assert sum(p.numel() for p in tiny.parameters()) < 10_000_000
    cfg = tiny.config
    ids = special_token_ids(tok)
    assert (cfg.audio_token_id, cfg.video_token_id, cfg.image_token_id) == (ids["audio"], ids["video"], ids["image"])
    assert (cfg.vision_start_token_id, cfg.audio_start_token_id) == (ids["vision_bos"], ids["audio_bos"])
    assert cfg.text_config.vocab_size == len(tok)
    assert cfg.text_config.rope_parameters["mrope_section"] == [4, 6, 6]
    v = cfg.vision_config
    assert (v.patch_size, v.temporal_patch_size, v.spatial_merge_size) == (7, 2, 4)  # 2 x 2 LLM tokens a 56-px frame
    assert cfg.audio_config.num_mel_bins == 128
    # A 56-px, 4-frame video: grid (2, 4, 4) -> 2 x (2x2) merged tokens; 100 mel frames -> 25 audio tokens.
    batch = batch_of(tiny, tok, [("the dog", "yes", 4, 100)])
    assert (batch["input_ids"] == ids["video"]).sum() == 8 and (batch["input_ids"] == ids["audio"]).sum() == 25
    out = tiny(**batch)
    assert out.logits.shape == (*batch["input_ids"].shape, len(tok)) and torch.isfinite(out.loss)


def test_real_presets_have_the_release_shapes():
    seven = PRESETS["omni-7b"]
    assert (seven.hidden_size, seven.num_layers, seven.intermediate_size, seven.vision_intermediate) == (
        3584,
        28,
        18944,
        3420,
    )
    assert PRESETS["omni-3b"].hidden_size == 2048
    with pytest.raises(ValueError, match="mrope_section"):
        dataclasses.replace(PRESETS["tiny"], mrope_section=(4, 4, 4))


def test_component_builder_takes_every_dimension(tok):
    dims = ThinkerDims(
        hidden_size=32,
        num_layers=1,
        num_heads=2,
        num_kv_heads=1,
        intermediate_size=48,
        mrope_section=(2, 3, 3),
        audio_d_model=16,
        audio_layers=1,
        audio_heads=2,
        audio_ffn=32,
        vision_depth=1,
        vision_hidden=16,
        vision_heads=2,
        vision_intermediate=32,
        vision_fullatt_blocks=(0,),
    )
    cfg = build_thinker_config(dims, 99, special_token_ids(tok))
    assert cfg.text_config.hidden_size == 32 and cfg.text_config.vocab_size == 99
    assert cfg.audio_config.output_dim == 32 and cfg.vision_config.out_hidden_size == 32
    with pytest.raises(ValueError, match="missing"):
        build_thinker_config(dims, 99, {"pad": 0})


def write_fake_release(model, directory):
    """A tiny stand-in for the released Qwen2.5-Omni directory: the full model's config.json and its
    weights under the release's key names (``thinker.model.layers…``), talker and token2wav included."""
    directory.mkdir()
    Qwen2_5OmniConfig(thinker_config=model.config.to_dict(), enable_audio_output=False).save_pretrained(directory)
    state = {"thinker." + rename_path(k, OURS_TO_RELEASE): v.contiguous() for k, v in model.state_dict().items()}
    assert "thinker.model.layers.0.self_attn.q_proj.weight" in state
    assert "thinker.visual.blocks.0.mlp.up_proj.weight" in state
    state["talker.codec_head.weight"] = torch.zeros(4, 4)
    state["token2wav.code_embedding.weight"] = torch.zeros(4, 4)
    save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})


def test_loads_only_the_thinker_from_a_release_directory(tiny, tok, tmp_path):
    write_fake_release(tiny, tmp_path / "Qwen2.5-Omni")
    loaded = build_thinker(tiny_model_config(checkpoint=str(tmp_path / "Qwen2.5-Omni")), tok)
    want, got = tiny.state_dict(), loaded.state_dict()
    assert want.keys() == got.keys()
    assert all(torch.equal(want[k], got[k]) for k in want)
    assert not any(k.startswith(("talker", "token2wav")) for k in got)


def test_errors_name_what_does_not_fit(tiny, tok, tmp_path):
    with pytest.raises(CheckpointError, match="needs model.checkpoint"):
        build_thinker(tiny_model_config(preset="omni-7b"), tok)
    with pytest.raises(CheckpointError, match="not a directory"):
        build_thinker(tiny_model_config(checkpoint=str(tmp_path / "absent")), tok)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        build_thinker(tiny_model_config(checkpoint=str(tmp_path / "empty")), tok)
    (tmp_path / "llama").mkdir()
    (tmp_path / "llama" / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(CheckpointError, match="model_type"):
        build_thinker(tiny_model_config(checkpoint=str(tmp_path / "llama")), tok)
    write_fake_release(tiny, tmp_path / "release")
    with pytest.raises(CheckpointError, match="omni-3b"):
        build_thinker(tiny_model_config(preset="omni-3b", checkpoint=str(tmp_path / "release")), tok)
    # A checkpoint whose placeholder ids differ from the tokenizer's.
    saved = tiny.config.audio_token_id
    tiny.config.audio_token_id = saved + 1
    try:
        write_fake_release(tiny, tmp_path / "mismatch")
    finally:
        tiny.config.audio_token_id = saved
    with pytest.raises(CheckpointError, match="special token ids differ"):
        build_thinker(tiny_model_config(checkpoint=str(tmp_path / "mismatch")), tok)
