"""The modular family (Crab's paradigm): the tiny preset's shapes and splicing, the processor's layout for it,
both projector kinds and both vision towers, save/load, and the real presets' builders on tiny random stand-ins of
their parts (CLIP / SigLIP + Whisper + Qwen2 / LLaMA), which must run forward and generate."""

from __future__ import annotations

import json

import pytest
import torch
from helpers.model import batch_of, randomize_adapters, samples_of, tiny_model_config, tiny_tokenizer
from helpers.modular import write_parts

from crabplus.config.core import ConfigError
from crabplus.data.collate import collate
from crabplus.data.processor import CrabProcessor
from crabplus.model import CheckpointError, attach_adapter, build_backbone, load_checkpoint, save_checkpoint
from crabplus.model.config import ModelConfig
from crabplus.model.generate import generate
from crabplus.model.modular.build import parts_tokenizer
from crabplus.model.modular.settings import ModularSettings
from crabplus.schema.tokens import SPECIAL_TOKENS, special_token_ids

SPECS = [("the dog plays", "drum", 4, 100), ("a cat", "no", 2, 60)]


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


def modular(tok, seed=0, **settings):
    torch.manual_seed(seed)
    return build_backbone(tiny_model_config(family="modular", modular=ModularSettings(**settings)), tok).eval()


def test_family_and_preset_are_checked_together():
    assert ModelConfig(family="modular").preset == "modular-tiny"
    with pytest.raises(ConfigError, match="model.family: modular"):
        ModelConfig(preset="modular-7b")
    with pytest.raises(ConfigError, match="model.family: unified"):
        ModelConfig(family="modular", preset="omni-7b")
    with pytest.raises(ConfigError, match="trainable"):
        ModularSettings(trainable=["decoder"])


def test_tiny_preset_parts_and_what_trains(tok):
    model = modular(tok)
    parts = {
        name: sum(p.numel() for p in getattr(model, name).parameters())
        for name in ("visual", "audio_tower", "vision_projector", "audio_projector", "language_model")
    }
    assert 1_500_000 < sum(parts.values()) < 2_000_000  # the unified tiny thinker's size less its 4 x 4 merger
    assert type(model.visual).__name__ == "CLIPVisionModel" and type(model.audio_tower).__name__ == "WhisperEncoder"
    assert type(model.language_model).__name__ == "Qwen2ForCausalLM"
    assert type(model.vision_projector.qformer).__name__ == "Blip2QFormerModel"
    # without an adapter only the projectors train (the default), as Crab's first stage
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"vision_projector", "audio_projector"}
    everything = modular(tok, trainable=["vision", "audio", "projectors", "llm"])
    assert all(p.requires_grad for p in everything.parameters())


def test_forward_splices_one_token_run_per_frame_and_segment(tok):
    model = modular(tok)
    cfg = model.config
    batch = batch_of(model, tok, SPECS)
    # 4 frames x 8 queries, 100 mel frames = 2 one-second segments x 4 queries; then 2 frames, 60 mel frames
    assert (batch["input_ids"] == cfg.video_token_id).sum() == (4 + 2) * cfg.vision_queries
    assert (batch["input_ids"] == cfg.audio_token_id).sum() == (2 + 2) * cfg.audio_queries
    with torch.no_grad():
        out = model(**batch)
    assert out.logits.shape == (*batch["input_ids"].shape, len(tok)) and torch.isfinite(out.loss)
    bad = dict(
        batch,
        input_features=batch["input_features"][:, :, :40],
        feature_attention_mask=batch["feature_attention_mask"][:, :40],
    )
    with pytest.raises(ValueError, match=r"audio: the prompt holds 16 placeholder tokens but .* gave 8"):
        model(**bad)
    with pytest.raises(ValueError, match="video placeholder tokens but no video input"):
        model(**{k: v for k, v in batch.items() if k != "pixel_values_videos"})


def test_audio_reaches_its_segment_and_padding_is_masked_out(tok):
    """Changing the second second of audio changes the second segment's tokens; zero-padding the batch (the
    collator's, to a longer sample) changes nothing: padded frames are cut away and masked out of the projector."""
    model = modular(tok)
    batch = batch_of(model, tok, [("a", None, 2, 100)])
    audio = lambda b: model.encode_audio(b["input_features"], b["feature_attention_mask"])  # noqa: E731
    with torch.no_grad():
        first = audio(batch)
        changed = batch["input_features"].clone()
        changed[..., 50:] += 3.0  # the second second only
        second = audio(dict(batch, input_features=changed))
    q = model.config.audio_queries
    assert first.shape == (2 * q, model.config.text_config.hidden_size)
    assert not torch.allclose(first[q:], second[q:])
    # the padded tail of a 60-frame item (2 segments, the second 10 frames long) is masked out of its projector
    short = batch_of(model, tok, [("a", None, 2, 60)])
    padded = dict(
        short,
        input_features=torch.nn.functional.pad(short["input_features"], (0, 40), value=5.0),
        feature_attention_mask=torch.nn.functional.pad(short["feature_attention_mask"], (0, 40)),
    )
    with torch.no_grad():
        torch.testing.assert_close(audio(short), audio(padded))


@pytest.mark.parametrize("projector", ["qformer", "mlp"])
def test_both_projectors_give_the_same_token_counts_and_generate(tok, projector):
    model = attach_adapter(modular(tok, projector=projector), tiny_model_config(family="modular"))
    randomize_adapters(model, scale=0.05)
    rows = samples_of(model, tok, [("the dog plays the", None, 4, 100), ("a", None, 2, 60)])
    pad = special_token_ids(tok)["pad"]
    texts = generate(model, tok, collate(rows, pad, "left"), max_new_tokens=4)
    assert texts == [generate(model, tok, collate([r], pad, "left"), max_new_tokens=4)[0] for r in rows]


def test_vision_places_mark_each_mlp_slot_and_survive_save_and_load(tok, tmp_path):
    """With ``vision_places`` the same frame content at two slots gives two different LLM tokens (the slot's place is
    written in); without it, identical pooled content gives identical tokens. The embedding trains with the
    projectors and round-trips through a saved base; a Q-Former refuses it."""
    frame_states = torch.zeros(1, 16, 64)  # [N, P, d_v]: every patch alike, so only the slot differs
    plain = modular(tok, projector="mlp").vision_projector
    placed_model = modular(tok, projector="mlp", vision_places=True)
    placed = placed_model.vision_projector
    with torch.no_grad():
        same = plain(frame_states)  # [1, q, D]
        marked = placed(frame_states)  # [1, q, D]
    assert torch.allclose(same[0, 0], same[0, -1])
    assert not torch.allclose(marked[0, 0], marked[0, -1])
    assert placed.places.requires_grad and placed_model.config.vision_places
    cfg = dataclasses_replace(
        tiny_model_config(family="modular", modular=ModularSettings(projector="mlp", vision_places=True)),
        adapter="none",
    )
    save_checkpoint(tmp_path / "base", placed_model, tok, cfg)
    loaded, _, loaded_cfg = load_checkpoint(tmp_path / "base")
    assert loaded.config.vision_places and loaded_cfg.modular.vision_places
    assert torch.equal(loaded.vision_projector.places, placed.places)
    with pytest.raises(ConfigError, match="vision_places needs model.modular.projector: mlp"):
        ModularSettings(vision_places=True)


def test_processor_writes_crabs_layout_for_a_modular_model(tok, small_avsynth):
    from crabplus.schema.records import load_records

    model = modular(tok)
    processor = CrabProcessor(tok, model.config, image_size=56)
    video = load_records(small_avsynth / "cremad" / "train.jsonl")[0]
    image = load_records(small_avsynth / "s4" / "train.jsonl")[0]
    sv, si = (processor.encode(r, small_avsynth, with_target=True) for r in (video, image))
    text = tok.decode(sv["input_ids"])
    user = text.split("<|im_start|>user\n")[1]
    assert user.startswith("This is a video:\n<|vision_bos|><|VIDEO|>")
    assert "<|vision_eos|>\nThis is an audio:\n<|audio_bos|><|AUDIO|>" in user
    assert user.split("<|audio_eos|>\n")[1].startswith(video.instruction)
    frames = sv["pixel_values_videos"]
    assert frames.shape[1:] == (3, 56, 56) and sv["video_grid_thw"].tolist() == [[frames.shape[0], 56, 56]]
    assert (sv["input_ids"] == model.config.video_token_id).sum() == frames.shape[0] * model.config.vision_queries
    mel = sv["feature_attention_mask"].sum().item()
    assert (sv["input_ids"] == model.config.audio_token_id).sum() == -(-mel // 50) * model.config.audio_queries
    assert "This is an image:\n" in tok.decode(si["input_ids"]) and si["pixel_values"].shape == (1, 3, 56, 56)
    # CLIP's normalisation, applied to the whole frame
    mean = torch.tensor(model.config.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(model.config.image_std).view(1, 3, 1, 1)
    pixels = frames * std + mean
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5
    with torch.no_grad():
        model(
            **{
                k: v
                for k, v in collate([sv, si], special_token_ids(tok)["pad"]).items()
                if torch.is_tensor(v) and k != "labels"
            }
        )


def test_save_and_load_round_trip(tok, tmp_path):
    cfg = tiny_model_config(family="modular")
    model = modular(tok)
    save_checkpoint(tmp_path / "base", model, tok, dataclasses_replace(cfg, adapter="none"))
    assert json.loads((tmp_path / "base" / "config.json").read_text())["model_type"] == "crabplus_modular"
    base, _, base_cfg = load_checkpoint(tmp_path / "base")
    assert base_cfg.family == "modular" and type(base).__name__ == "ModularAVModel"
    for key, value in model.state_dict().items():
        assert torch.equal(base.state_dict()[key], value), key
    tuned_cfg = dataclasses_replace(cfg, checkpoint=str(tmp_path / "base"))
    tuned = attach_adapter(base, tuned_cfg)
    randomize_adapters(tuned, scale=0.05)
    save_checkpoint(tmp_path / "tuned", tuned, tok, tuned_cfg)  # adapter-only: names its base
    assert not (tmp_path / "tuned" / "model.safetensors").exists()
    loaded, _, _ = load_checkpoint(tmp_path / "tuned")
    batch = batch_of(model, tok, SPECS)
    with torch.no_grad():
        assert torch.equal(tuned.eval()(**batch).logits, loaded.eval()(**batch).logits)


def test_a_saved_base_loads_in_a_fresh_process_without_transformers_warnings(tok, tmp_path):
    """In a new interpreter nothing has registered ``crabplus_modular`` with AutoConfig yet when the tokenizer is
    read; transformers then warned "You are using a model of type `crabplus_modular` to instantiate a model of type
    ``" on every load (the demo, predict, serve on a modular base) and when a stage trains from one."""
    import subprocess
    import sys

    base = str(tmp_path / "base")
    save_checkpoint(tmp_path / "base", modular(tok), tok, tiny_model_config(family="modular", adapter="none"))
    loads = {
        "load_checkpoint": f"from crabplus.model import load_checkpoint; load_checkpoint({base!r})",
        "a stage's build_model": "from crabplus.model.config import ModelConfig; from crabplus.train.recipe import "
        f"build_model; build_model(ModelConfig(family='modular', checkpoint={base!r}, adapter='none'))",
    }
    for name, code in loads.items():
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{name}: {done.stderr}"
        assert "model of type" not in done.stderr, f"{name}: {done.stderr}"


def test_a_unified_folder_is_not_taken_for_a_modular_base(tok, tmp_path):
    from crabplus.model import build_thinker

    torch.manual_seed(0)
    save_checkpoint(
        tmp_path / "unified", build_thinker(tiny_model_config(), tok), tok, tiny_model_config(adapter="none")
    )
    cfg = tiny_model_config(family="modular", checkpoint=str(tmp_path / "unified"))
    with pytest.raises(CheckpointError, match="model_type' is 'qwen2_5_omni_thinker'"):
        build_backbone(cfg, tok)
    with pytest.raises(CheckpointError, match="needs its parts on local disk"):
        build_backbone(tiny_model_config(family="modular", preset="modular-7b"), tok)


@pytest.mark.parametrize(
    "preset, vision, llm",
    [("modular-7b", "clip", "qwen2"), ("modular-llama2-7b", "clip", "llama"), ("modular-siglip-7b", "siglip", "qwen2")],
)
def test_real_presets_build_from_local_parts_and_generate(tmp_path, preset, vision, llm):
    """The real presets' builders on tiny random parts written as released: the vision tower comes out of the whole
    image-text model, the encoder out of the whole Whisper, the placeholders are added to the LLM's tokenizer, and the
    connector is the preset's (a 768-wide 2-layer Q-Former, 32 queries per frame and per second)."""
    parts = write_parts(tmp_path, vision, llm)
    cfg = ModelConfig(
        family="modular",
        preset=preset,
        modular=ModularSettings(**parts),
        adapter="ilora",
        ilora=tiny_model_config().ilora,
    )
    tok = parts_tokenizer(cfg)
    assert all(t in tok.get_vocab() for t in SPECIAL_TOKENS.values())
    torch.manual_seed(0)
    model = attach_adapter(build_backbone(cfg, tok), cfg)
    assert model.config.vision_queries == 32 and model.config.qformer_config.hidden_size == 768
    assert model.config.audio_segment_frames == 100 and model.config.audio_config.max_source_positions == 1500
    assert model.get_input_embeddings().weight.shape[0] >= len(tok)
    randomize_adapters(model, scale=0.05)
    rows = samples_of(model, tok, [("the dog", None, 2, 250), ("a", None, 2, 100)])
    batch = collate(rows, special_token_ids(tok)["pad"], "left")
    assert (batch["input_ids"] == model.config.audio_token_id).sum() == (3 + 1) * 32
    with torch.no_grad():
        assert torch.isfinite(model(**batch).logits).all()
    texts = generate(model, tok, batch, max_new_tokens=3)
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    assert {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad} == {"language_model"}


def dataclasses_replace(cfg, **changes):
    import dataclasses

    return dataclasses.replace(cfg, **changes)


def test_gradient_checkpointing_and_a_missing_part(tok, tmp_path):
    cfg = tiny_model_config(
        family="modular",
        gradient_checkpointing=True,
        modular=ModularSettings(trainable=["vision", "audio", "projectors", "llm"]),
    )
    torch.manual_seed(0)
    model = build_backbone(cfg, tok).train()
    assert model.language_model.is_gradient_checkpointing and model.visual.is_gradient_checkpointing
    model(**batch_of(model, tok, SPECS)).loss.backward()
    assert all(
        p.grad is not None
        for n, p in model.named_parameters()
        if n.startswith(("language_model.model.layers.", "audio_projector.", "audio_tower.layers."))
    )
    only_vision = ModelConfig(family="modular", preset="modular-7b", modular=ModularSettings(vision=str(tmp_path)))
    with pytest.raises(CheckpointError, match="model.modular.audio: missing"):
        build_backbone(only_vision, tok)
