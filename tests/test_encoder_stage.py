"""Stage 0 of the base: AVSynth's ground truth as tower targets, the tower trainer, and the towers' learning rate
in the alignment stage."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crabplus.config.core import ConfigError
from crabplus.model.config import ModelConfig
from crabplus.synth.encoder_targets import (
    FACES,
    MOODS,
    MOTION_NAMES,
    NINTHS,
    OPTIONAL_TARGETS,
    TARGETS,
    face_targets,
    record_targets,
    scene_targets,
)
from crabplus.synth.pretrain_text import ninth
from crabplus.synth.world import COLOUR_NAMES, SHAPE_NAMES
from crabplus.train.config import TrainConfig
from crabplus.train.encoders import EncoderStageConfig, per_group, train_towers
from crabplus.train.recipe import _optimizer, build_model, freeze_towers, is_tower_parameter

SCENE = {
    "duration": 4,
    "objects": [
        {
            "class": "red circle",
            "onscreen": True,
            "x": 0.2,
            "y": 0.3,
            "motion": "bounce",
            "sounding": [[1, 3]],
            "visible": [[0, 4]],
        },
        {
            "class": "blue cross",
            "onscreen": True,
            "x": 0.8,
            "y": 0.7,
            "motion": "still",
            "sounding": [],
            "visible": [[2, 4]],
        },
        {"class": "green square", "onscreen": False, "sounding": [[0, 4]]},
    ],
}


def test_still_targets_name_each_quarter_and_what_sounds_at_its_moment():
    t = scene_targets(SCENE, moment=1.5)
    red, blue = COLOUR_NAMES.index("red") + 1, COLOUR_NAMES.index("blue") + 1
    assert t["token_colour"] == [red, 0, 0, blue]  # top left, top right, bottom left, bottom right
    assert t["token_shape"] == [SHAPE_NAMES.index("circle") + 1, 0, 0, SHAPE_NAMES.index("cross") + 1]
    assert t["token_place"] == [0, 1, 2, 3]  # each token says which quarter it is
    assert t["seen_colours"][COLOUR_NAMES.index("green")] == 0  # off screen: heard, not seen
    heard = {COLOUR_NAMES[i] for i in np.flatnonzero(t["heard_colours"])}
    assert heard == {"red", "green"}  # at second 1 the red circle and the off-screen square sound
    assert scene_targets(SCENE, moment=3.2)["heard_colours"][COLOUR_NAMES.index("red")] == 0  # off at 3 s


def test_scene_targets_give_motions_and_who_sounds_each_second():
    t = scene_targets(SCENE, moment=None)
    assert "token_colour" not in t  # positions move in a video: per-token targets only for stills
    assert t["per_second"].shape == (4, len(COLOUR_NAMES) + len(SHAPE_NAMES))
    red = COLOUR_NAMES.index("red")
    assert t["per_second"][:, red].tolist() == [0, 1, 1, 0]
    assert t["per_second"][:, COLOUR_NAMES.index("green")].tolist() == [1, 1, 1, 1]
    assert t["motions"].sum() == 2


def test_optional_targets_name_a_tokens_ninth_and_each_seconds_motion():
    assert NINTHS[0] == "upper left" and NINTHS[4] == "centre" and NINTHS[8] == "lower right"
    assert [ninth((c + 0.5) / 3, (r + 0.5) / 3) for r in range(3) for c in range(3)] == list(NINTHS)
    still = scene_targets(SCENE, moment=1.5)
    # the red circle (0.2, 0.3) is in the upper-left ninth of the top-left quarter; the blue cross (0.8, 0.7)
    # in the lower-right ninth of the bottom-right quarter
    assert still["token_ninth"] == [NINTHS.index("upper left") + 1, 0, 0, NINTHS.index("lower right") + 1]
    scene = scene_targets(SCENE, moment=None)
    bounce, stay = MOTION_NAMES.index("bounce") + 1, MOTION_NAMES.index("still") + 1
    # one row a second; the cross is visible from second 2
    assert scene["token_motion"] == [[bounce, 0, 0, 0]] * 2 + [[bounce, 0, 0, stay]] * 2
    for name, (tower, level, loss, _) in OPTIONAL_TARGETS.items():
        assert name not in TARGETS and tower == "vision" and level in ("token", "time_token") and loss == "ce"


def testper_group_takes_the_second_at_each_groups_middle():
    per_second = np.arange(10 * 4).reshape(10, 4)  # 10 s, 4 tokens a group
    out = per_group(per_second, 5 * 4)  # 5 groups of 2 s: seconds 1, 3, 5, 7, 9
    assert out.reshape(5, 4)[:, 0].tolist() == [4, 12, 20, 28, 36]
    assert per_group(per_second, 10 * 4).tolist() == per_second.reshape(-1).tolist()
    with pytest.raises(ValueError, match="groups of 4"):
        per_group(per_second, 18)


def test_extra_targets_are_checked_and_leave_the_default_stamp_key_alone():
    from crabplus.experiments.encoders import stage_targets

    assert stage_targets(EncoderStageConfig()) == TARGETS
    both = stage_targets(EncoderStageConfig(extra_targets=["token_ninth", "token_motion"]))
    assert set(both) == set(TARGETS) | {"token_ninth", "token_motion"}
    with pytest.raises(ConfigError, match="encoders.extra_targets: unknown \\['ninth'\\]"):
        stage_targets(EncoderStageConfig(extra_targets=["ninth"]))


def test_face_targets_and_layouts():
    t = face_targets({"emotion": "worried", "base_f0": 120.0})
    assert MOODS[t["mood"]] == "worried" and t["voice_mood"] == t["mood"] and t["speaker_high"] == 0
    sad = face_targets({"emotion": "sad", "base_f0": 200.0})
    assert sad["face"] == t["face"] and len(FACES) == 5  # sad and worried share a drawn face
    assert record_targets("pt_pair", {}) is None
    for name, (tower, level, loss, _) in TARGETS.items():
        assert tower in ("vision", "audio") and level in ("token", "clip", "second") and loss in ("ce", "bce"), name


@pytest.mark.integration
@pytest.mark.parametrize("family", ["unified", "modular"])
def test_train_towers_lowers_the_heads_loss_and_leaves_the_rest_alone(small_corpus, family):
    from crabplus.data.processor import CrabProcessor
    from crabplus.experiments.encoders import clip_records, tower_samples

    torch.manual_seed(0)
    tokenizer, thinker = build_model(ModelConfig(family=family, adapter="none"))
    processor = CrabProcessor(tokenizer, thinker.config, image_size=56)
    samples = tower_samples(clip_records(small_corpus), small_corpus, processor)
    assert {s.layout for s in samples} == {"pt_scene", "pt_still", "pt_still10", "pt_face"}
    samples = samples * 4  # a few clips seen several times: the loss must fall on them
    targets = {**TARGETS, **OPTIONAL_TARGETS}  # the per-group motion tokens too
    # the LLM (and a modular model's projectors, trained in stage 1) stay as they were
    rest = {n: p.detach().clone() for n, p in thinker.named_parameters() if not is_tower_parameter(n)}
    towers = {n: p.detach().clone() for n, p in thinker.named_parameters() if is_tower_parameter(n)}
    cfg = EncoderStageConfig(steps=24, batch_size=4, learning_rate=3e-3, warmup_steps=2, log_steps=6, val_fraction=0.0)
    result = train_towers(thinker, samples, targets, cfg, seed=0)
    losses = [row["loss"] for row in result.history]
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert rest and all(torch.equal(p, rest[n]) for n, p in thinker.named_parameters() if n in rest)
    assert any(not torch.equal(p, towers[n]) for n, p in thinker.named_parameters() if n in towers)


@pytest.mark.integration
def test_frozen_towers_train_the_heads_alone(small_corpus):
    from crabplus.data.processor import CrabProcessor
    from crabplus.experiments.encoders import clip_records, tower_samples

    torch.manual_seed(0)
    tokenizer, thinker = build_model(ModelConfig(adapter="none"))
    processor = CrabProcessor(tokenizer, thinker.config, image_size=56)
    samples = tower_samples(clip_records(small_corpus), small_corpus, processor) * 4
    before = {n: p.detach().clone() for n, p in thinker.named_parameters()}
    cfg = EncoderStageConfig(steps=6, batch_size=4, warmup_steps=1, log_steps=3, val_fraction=0.0)
    result = train_towers(thinker, samples, TARGETS, cfg, seed=0, frozen=True)
    assert all(torch.equal(p, before[n]) for n, p in thinker.named_parameters())  # a readout: nothing else moves
    assert result.heads is not None and set(result.heads.heads) == set(TARGETS)
    assert result.history[-1]["loss"] < result.history[0]["loss"]


@torch.no_grad()
def test_the_modular_reader_gives_a_stills_quarters_and_the_audio_of_real_frames():
    from crabplus.train.encoders import ModularTowers, TowerSample

    torch.manual_seed(0)
    _, model = build_model(ModelConfig(family="modular", adapter="none"))
    reader = ModularTowers(model)
    pixels = torch.randn(1, 3, 56, 56)
    feats = torch.randn(1, 128, 150)  # 3 s at the tiny 20 ms hop; the second clip has 2 s of it
    samples = [
        TowerSample("pt_still", {"pixel_values": pixels}, {"input_features": feats, "feature_attention_mask": m}, {})
        for m in (torch.ones(1, 150, dtype=torch.long), torch.ones(1, 100, dtype=torch.long))
    ]
    samples[1].audio["input_features"] = feats[:, :, :100]
    vision = reader.vision(samples)
    assert [tuple(v.shape) for v in vision] == [(4, 64), (4, 64)]  # 4x4 patches -> one token per quarter
    patches = model.frame_states(pixels)[0].reshape(4, 4, 64)  # [row, column, d]
    assert torch.allclose(vision[0][1], patches[:2, 2:].mean(dim=(0, 1)), atol=1e-6)  # top right
    audio = reader.audio(samples)
    assert [a.shape[0] for a in audio] == [75, 50]  # 25 encoder positions a second, padding left out
    assert reader.widths == {"vision": 64, "audio": 64}


@torch.no_grad()
def test_the_modular_reader_pools_7px_patches_to_the_same_quarters():
    from crabplus.train.encoders import ModularTowers, TowerSample

    torch.manual_seed(0)
    _, model = build_model(ModelConfig(family="modular", preset="modular-tiny-p7", adapter="none"))
    pixels = torch.randn(1, 3, 56, 56)
    patches = model.frame_states(pixels)[0]
    assert patches.shape == (64, 64)  # 8 x 8 patches of 7 px
    sample = TowerSample("pt_still", {"pixel_values": pixels}, {}, {})
    (vision,) = ModularTowers(model).vision([sample])
    grid = patches.reshape(8, 8, 64)  # [row, column, d]
    assert vision.shape == (4, 64)  # still one token per quarter
    assert torch.allclose(vision[2], grid[4:, :4].mean(dim=(0, 1)), atol=1e-6)  # bottom left: a 4 x 4 block


@torch.no_grad()
def test_the_modular_reader_lays_a_quarters_patches_side_by_side_when_the_projector_concatenates():
    from crabplus.model.modular.settings import ModularSettings
    from crabplus.train.encoders import ModularTowers, TowerSample

    torch.manual_seed(0)
    settings = ModularSettings(
        projector="mlp", vision_queries=4, vision_positions="grid", mrope_section=[4, 6, 6], vision_merge="concat"
    )
    _, model = build_model(ModelConfig(family="modular", preset="modular-tiny-p7", adapter="none", modular=settings))
    pixels = torch.randn(1, 3, 56, 56)
    grid = model.frame_states(pixels)[0].reshape(8, 8, 64)  # [row, column, d]
    reader = ModularTowers(model)
    (vision,) = reader.vision([TowerSample("pt_still", {"pixel_values": pixels}, {}, {})])
    assert vision.shape == (4, 16 * 64) and reader.widths["vision"] == 16 * 64  # a 4 x 4 block of 7-px patches
    assert torch.equal(vision[1], grid[:4, 4:].reshape(-1))  # top right, its patches row-major
    tokens = model.vision_projector.blocks(model.frame_states(pixels))  # what the projector's Linear reads
    assert torch.equal(tokens[0], vision)


def test_tower_parameters_are_the_towers_with_their_projections():
    _, model = build_model(ModelConfig(preset="tiny", adapter="none"))
    names = [n for n, _ in model.named_parameters()]
    towers = {n for n in names if is_tower_parameter(n)}
    assert towers and all(("visual." in n or "audio_tower." in n) for n in towers)
    assert not any("language_model" in n or "lm_head" in n for n in towers)
    assert any("merger" in n for n in towers) and any("audio_tower.proj" in n for n in towers)


def test_encoder_lr_scale_sets_the_towers_rate_and_zero_freezes_them():
    _, model = build_model(ModelConfig(preset="tiny", adapter="none"))
    opt = _optimizer(model, TrainConfig(stage="base", learning_rate=1e-3, encoder_lr_scale=0.1))
    rates = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    for name, p in model.named_parameters():
        assert rates[id(p)] == pytest.approx(1e-4 if is_tower_parameter(name) else 1e-3), name
    frozen = freeze_towers(model)
    assert frozen == sum(p.numel() for n, p in model.named_parameters() if is_tower_parameter(n))
    opt = _optimizer(model, TrainConfig(stage="base", learning_rate=1e-3, encoder_lr_scale=0.0))
    trained = {id(p) for g in opt.param_groups for p in g["params"]}
    assert all((id(p) in trained) != is_tower_parameter(n) for n, p in model.named_parameters())
    with pytest.raises(Exception, match="encoder_lr_scale"):
        TrainConfig(encoder_lr_scale=-1.0)
