"""Grid positions for the modular model's vision tokens (``model.modular.vision_positions: grid``): the unified
thinker's time / height / width rotary layout given to a plain causal LM. The numbering, the sectioned rotary
against the thinker's own LLM, and the model's training forward, greedy decoding, batch invariance and save/load."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from helpers.model import batch_of, samples_of, tiny_model_config, tiny_tokenizer

from crabplus.config.core import ConfigError
from crabplus.data.collate import collate
from crabplus.experiments.base import SHIPPED_BASE
from crabplus.model import build_backbone, load_checkpoint, save_checkpoint
from crabplus.model.config import ModelConfig
from crabplus.model.generate import FORWARD_KEYS, generate
from crabplus.model.modular.parts import unified_llm
from crabplus.model.modular.positions import SectionedRotary, grid_position_ids, install_sectioned_rotary
from crabplus.model.modular.projector import grid_concat, grid_pool
from crabplus.model.modular.settings import ModularSettings
from crabplus.schema.tokens import special_token_ids
from crabplus.train.recipe import build_model

GRID = {"projector": "mlp", "vision_queries": 4, "vision_positions": "grid", "mrope_section": [4, 6, 6]}
SPECS = [("the dog plays the", None, 4, 100), ("a", None, 2, 60)]


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


def grid_cfg(**settings):
    return tiny_model_config(family="modular", modular=ModularSettings(**{**GRID, **settings}))


def grid_model(tok, seed=0):
    torch.manual_seed(seed)
    return build_backbone(grid_cfg(), tok).eval()


def test_positions_number_text_on_one_axis_and_frames_on_a_grid():
    v, pad = 7, 0
    # row 0 left-padded: pad, text, 2 frames x 2 x 2 vision tokens, text, text; row 1: text, 4 frames, text
    row0 = [pad, 11] + [v] * 8 + [12, 13] + [pad] * 0
    row1 = [11] + [v] * 16 + [12]
    width = max(len(row0), len(row1))
    ids = torch.tensor([[pad] * (width - len(row0)) + row0, row1])
    mask = (torch.arange(width)[None] >= torch.tensor([[width - len(row0) + 1], [0]])).long()
    pos, nxt = grid_position_ids(ids, mask, {v: [2, 4]}, grid=2, frames_per_time=2, time_step=25)
    first = width - len(row0) + 1  # row 0's first real token
    assert pos[:, 0, first].tolist() == [0, 0, 0]
    block = pos[:, 0, first + 1 : first + 9]  # two frames, one time position (a temporal patch of 2)
    assert block[0].tolist() == [1] * 8
    assert block[1].tolist() == [1, 1, 2, 2] * 2 and block[2].tolist() == [1, 2, 1, 2] * 2
    assert pos[:, 0, first + 9].tolist() == [3, 3, 3] and nxt[0] == 5  # the block's largest position + 1
    times = pos[0, 1, 1:17].tolist()  # four frames: two time groups 25 apart
    assert times == [1] * 8 + [26] * 8 and pos[:, 1, 17].tolist() == [27, 27, 27] and nxt[1] == 28
    with pytest.raises(ValueError, match="row 0 holds 8 placeholder tokens 7 in a run, but its item has 3 frames"):
        grid_position_ids(ids, mask, {v: [3, 4]}, grid=2, frames_per_time=2, time_step=25)
    with pytest.raises(ValueError, match="have no run in the prompt"):
        grid_position_ids(ids, mask, {v: [2, 4, 1]}, grid=2, frames_per_time=2, time_step=25)


def test_the_mlp_projector_pools_a_frame_into_square_blocks():
    patches = torch.arange(16.0).view(1, 16, 1)  # [1, P, 1]: a 4 x 4 frame, each patch its raster index
    assert grid_pool(patches, 4).flatten().tolist() == [2.5, 4.5, 10.5, 12.5]  # the 2 x 2 blocks, row-major
    with pytest.raises(ValueError, match="square grids: 16 patches a frame into 8 tokens"):
        grid_pool(patches, 8)


@torch.no_grad()
def test_the_sectioned_rotary_is_the_plain_one_on_one_axis_and_the_thinkers_on_three():
    """The shipped thinker's LLM as a plain Qwen2 with the sectioned rotary gives the thinker's own logits for the
    same [3, B, L] positions (time, height and width apart), and the plain rotary's for one position per token."""
    _, thinker = build_model(ModelConfig(checkpoint=str(SHIPPED_BASE), adapter="none"))
    llm = unified_llm(SHIPPED_BASE)
    plain = llm.get_decoder().rotary_emb
    section = thinker.config.text_config.rope_parameters["mrope_section"]
    sectioned = SectionedRotary(plain, section)
    x = torch.zeros(1, 5, 8)
    flat = torch.arange(5)[None]  # [1, 5]
    for got, want in zip(sectioned(x, flat), plain(x, flat)):
        torch.testing.assert_close(got, want)
    install_sectioned_rotary(llm, section)
    gen = torch.Generator().manual_seed(0)
    embeds = torch.randn(1, 9, thinker.config.text_config.hidden_size, generator=gen) * 0.5  # [1, L, D]
    pos = torch.stack([torch.arange(9), torch.arange(9) % 3, torch.arange(9) * 2])[:, None]  # [3, 1, L]
    mask = torch.ones(1, 9, dtype=torch.long)
    hidden = thinker.model.language_model(inputs_embeds=embeds, attention_mask=mask, position_ids=pos)
    want = thinker.lm_head(hidden.last_hidden_state)
    got = llm(inputs_embeds=embeds, attention_mask=mask, position_ids=pos).logits
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    other = llm(inputs_embeds=embeds, attention_mask=mask, position_ids=pos[:1].expand(3, -1, -1)).logits
    assert (other - want).abs().max() > 1e-3  # the height and width positions matter


@torch.no_grad()
def test_a_grid_model_trains_and_decodes_at_each_rows_next_position(tok):
    model = grid_model(tok)
    assert isinstance(model.language_model.get_decoder().rotary_emb, SectionedRotary)
    batch = batch_of(model, tok, [("the dog plays", "drum", 4, 100), ("a cat", "no", 2, 60)])
    assert (batch["input_ids"] == model.config.video_token_id).sum() == (4 + 2) * 4  # 2 x 2 tokens a frame
    out = model(**batch)
    assert torch.isfinite(out.loss)
    pad = special_token_ids(tok)["pad"]
    rows = samples_of(model, tok, SPECS)
    left = collate(rows, pad, "left")
    texts = generate(model, tok, left, max_new_tokens=5, stop_repetition=False)
    assert texts == [generate(model, tok, collate([r], pad, "left"), max_new_tokens=5)[0] for r in rows]
    # decoding with the cache equals re-reading the whole sequence: each new token at its row's next position
    inputs = {k: left[k] for k in FORWARD_KEYS if left.get(k) is not None}  # what generate_ids passes
    ids = model.generate(
        **inputs,
        max_new_tokens=4,
        eos_token_id=[],
        pad_token_id=pad,
    )
    prompt = left["input_ids"].shape[1]
    full = dict(left, input_ids=ids, attention_mask=torch.cat([left["attention_mask"], torch.ones(2, 4).long()], 1))
    full.pop("labels", None)
    logits = model(**full).logits  # [B, prompt + 4, V]
    assert torch.equal(logits[:, prompt - 1 : -1].argmax(-1), ids[:, prompt:])
    with pytest.raises(ValueError, match="unsupported options: \\['do_sample'\\]"):
        model.generate(**inputs, do_sample=True)


def test_a_grid_model_round_trips_and_bad_settings_are_named(tok, tmp_path):
    model = grid_model(tok)
    cfg = replace(grid_cfg(), adapter="none")
    save_checkpoint(tmp_path / "base", model, tok, cfg)
    loaded, _, loaded_cfg = load_checkpoint(tmp_path / "base")
    assert loaded.config.vision_positions == "grid" and loaded.config.mrope_section == [4, 6, 6]
    assert loaded_cfg.modular.vision_positions == "grid"
    pad = special_token_ids(tok)["pad"]
    batch = collate(samples_of(model, tok, SPECS), pad, "left")
    assert generate(loaded.eval(), tok, batch, max_new_tokens=4) == generate(model, tok, batch, max_new_tokens=4)
    with pytest.raises(ConfigError, match="grid needs model.modular.projector: mlp"):
        ModularSettings(vision_positions="grid", mrope_section=[4, 6, 6])
    with pytest.raises(ConfigError, match="grid needs model.modular.mrope_section"):
        ModularSettings(projector="mlp", vision_positions="grid")
    with pytest.raises(ValueError, match="vision_queries 8 is not a square grid"):
        build_backbone(grid_cfg(vision_queries=8), tok)
    with pytest.raises(ValueError, match="must be three positive numbers summing to the LLM's head_dim / 2 = 16"):
        build_backbone(grid_cfg(mrope_section=[4, 4, 4]), tok)


def test_grid_concat_lays_each_blocks_patches_side_by_side_in_row_major_order():
    patches = torch.arange(16.0).reshape(1, 16, 1)  # a 4 x 4 grid, one channel: the patch's own index
    blocks = grid_concat(patches, 4)  # [1, 4, 4]
    assert blocks[0].tolist() == [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]
    assert grid_concat(patches, 4).mean(-1).flatten().tolist() == grid_pool(patches, 4).flatten().tolist()
    with pytest.raises(ValueError, match="square grid of whole blocks"):
        grid_concat(torch.zeros(1, 36, 1), 16)  # 6 x 6 patches into 4 x 4 blocks


@torch.no_grad()
def test_a_concatenating_grid_model_trains_round_trips_and_refuses_what_it_cannot_read(tok, tmp_path):
    torch.manual_seed(0)
    cfg = grid_cfg(vision_merge="concat")
    model = build_backbone(cfg, tok).eval()
    assert model.vision_projector.linear_1.in_features == 4 * model.config.vision_config.hidden_size  # 2 x 2 patches
    batch = batch_of(model, tok, [("the dog plays", "drum", 4, 100), ("a cat", "no", 2, 60)])
    assert torch.isfinite(model(**batch).loss)
    save_checkpoint(tmp_path / "base", model, tok, replace(cfg, adapter="none"))
    loaded, _, loaded_cfg = load_checkpoint(tmp_path / "base")
    assert loaded.config.vision_merge == "concat" and loaded_cfg.modular.vision_merge == "concat"
    pad = special_token_ids(tok)["pad"]
    rows = collate(samples_of(model, tok, SPECS), pad, "left")
    assert generate(loaded.eval(), tok, rows, max_new_tokens=4) == generate(model, tok, rows, max_new_tokens=4)
    with pytest.raises(ValueError, match="built for 16"):
        model.vision_projector(torch.zeros(1, 64, model.config.vision_config.hidden_size))  # 112-px frames
    with pytest.raises(ConfigError, match="vision_merge: concat needs model.modular.vision_positions: grid"):
        ModularSettings(projector="mlp", vision_merge="concat")
