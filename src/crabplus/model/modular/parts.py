"""The parts a modular base starts from, written as the released checkpoints they stand in for.

Crab's paradigm assembles separately pretrained models: a CLIP vision tower, a Whisper encoder and an
instruction-tuned LLM, each a folder that ``model.modular.vision`` / ``audio`` / ``llm`` name
(:mod:`crabplus.model.modular.build` loads them). On AVSynth nothing is released, so the tiny base makes them:

- :func:`export_towers`: the towers of a modular model trained by the encoder stage, written as a
  ``CLIPVisionModel`` (or ``SiglipVisionModel``) folder and a Whisper folder whose tensors are the encoder's
  (``model.encoder.*``, as a whole Whisper checkpoint names them);
- :func:`export_unified_llm`: the LLM of a unified thinker (the shipped base: already trained on the perception
  corpus) as a plain ``Qwen2ForCausalLM`` folder with its tokenizer. On text the two compute the same logits:
  the thinker's multimodal rotary positions are one position repeated on its three axes for text, which is
  the plain rotary embedding of that position (tests/test_modular_parts.py checks it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from safetensors.torch import save_file
from torch import nn
from transformers import Qwen2Config, Qwen2ForCausalLM

from crabplus.model.build import CheckpointError
from crabplus.utils.io import apply_umask, read_json, read_safetensors

#: the files of a saved tokenizer (transformers' fast tokenizer and its chat template)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")

#: the thinker's LLM tensors: ``model.language_model.*`` and ``lm_head.*`` (its towers are ``model.visual.*``,
#: ``model.audio_tower.*``)
_THINKER_LLM = "model.language_model."


def export_towers(model: nn.Module, dest: Path) -> tuple[Path, Path]:
    """Write ``model``'s vision tower to ``dest/vision`` and its audio encoder to ``dest/audio``; returns both."""
    vision, audio = dest / "vision", dest / "audio"
    model.visual.save_pretrained(str(vision), safe_serialization=True)
    audio.mkdir(parents=True, exist_ok=True)
    model.config.audio_config.save_pretrained(str(audio))
    state = {f"model.encoder.{k}": v.detach().contiguous() for k, v in model.audio_tower.state_dict().items()}
    save_file(state, str(audio / "model.safetensors"), metadata={"format": "pt"})
    for folder in (vision, audio):
        apply_umask(folder)
    return vision, audio


def unified_llm_config(thinker_dir: Path) -> Qwen2Config:
    """The plain Qwen2 config of a saved unified thinker's LLM (same widths, depth, heads, norm and rotary base)."""
    config = read_json(thinker_dir / "config.json", CheckpointError, f"{thinker_dir}: no config.json")
    if config.get("model_type") != "qwen2_5_omni_thinker":
        raise CheckpointError(
            f"{thinker_dir / 'config.json'}: field 'model_type' is {config.get('model_type')!r}; the LLM is taken "
            "from a unified thinker's folder ('qwen2_5_omni_thinker', e.g. the shipped base)"
        )
    text = config["text_config"]
    rope = text.get("rope_parameters") or {}
    return Qwen2Config(
        vocab_size=text["vocab_size"],
        hidden_size=text["hidden_size"],
        intermediate_size=text["intermediate_size"],
        num_hidden_layers=text["num_hidden_layers"],
        num_attention_heads=text["num_attention_heads"],
        num_key_value_heads=text["num_key_value_heads"],
        hidden_act=text.get("hidden_act", "silu"),
        max_position_embeddings=text["max_position_embeddings"],
        rms_norm_eps=text["rms_norm_eps"],
        rope_parameters={"rope_type": "default", "rope_theta": float(rope.get("rope_theta", 1e6))},
        pad_token_id=text.get("pad_token_id"),
        eos_token_id=text.get("eos_token_id"),
        tie_word_embeddings=False,
    )


def unified_llm(thinker_dir: Path) -> Qwen2ForCausalLM:
    """The LLM of the unified thinker saved in ``thinker_dir`` as a ``Qwen2ForCausalLM`` (its weights, exactly)."""
    llm = Qwen2ForCausalLM(unified_llm_config(thinker_dir))
    weights = read_safetensors(thinker_dir / "model.safetensors", CheckpointError)
    state = {
        ("model." + k[len(_THINKER_LLM) :] if k.startswith(_THINKER_LLM) else k): v
        for k, v in weights.items()
        if k.startswith(_THINKER_LLM) or k.startswith("lm_head.")
    }
    own = llm.state_dict()
    wrong = sorted(set(own) ^ set(state)) + sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if wrong:
        raise CheckpointError(f"{thinker_dir / 'model.safetensors'}: its LLM does not fit Qwen2 ({wrong[:4]})")
    llm.load_state_dict(state, strict=True)
    return llm.eval()


def export_unified_llm(thinker_dir: Path, dest: Path) -> Path:
    """Write the unified thinker's LLM and tokenizer to ``dest`` as a causal LM folder; returns ``dest``."""
    llm = unified_llm(thinker_dir)
    llm.save_pretrained(str(dest), safe_serialization=True)
    for name in TOKENIZER_FILES:  # the thinker's tokenizer, byte for byte (the data layer reads it)
        if (thinker_dir / name).is_file():
            shutil.copyfile(thinker_dir / name, dest / name)
    apply_umask(dest)
    return dest
