"""Building the modular model: random from ``modular-tiny``, from three local part checkpoints (the real presets),
or from one of our saved modular runs; and which parts train.

``model.checkpoint`` (our saved folder: ``crabplus_model.json`` + ``config.json`` of model_type
``crabplus_modular`` + ``model.safetensors``, or an adapter-only save naming such a base) wins. Without it,
``model.modular.vision`` / ``audio`` / ``llm`` name local directories, on disk only (nothing is downloaded):

- vision: a CLIP or SigLIP checkpoint (the whole image-text model, as released, or its vision tower alone); only
  the vision tower is loaded (transformers' ``CLIPVisionModel`` / ``SiglipVisionModel`` read it from either);
- audio: a Whisper checkpoint; only the encoder's tensors are read (``model.encoder.*``), the decoder never is;
- llm: any causal LM directory with its tokenizer (``AutoModelForCausalLM``); the special tokens of our prompt
  layout that its tokenizer lacks are added (:func:`parts_tokenizer`) and its embedding grows when needed.

The projectors are then new (random): they are what the first stage trains (``model.modular.trainable``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, CLIPVisionModel, SiglipVisionModel
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from crabplus.model.build import META_FILE, CheckpointError, resolve_base, resolve_dtype
from crabplus.model.config import TINY_PRESETS, ModelConfig
from crabplus.model.modular.hf_config import ModularAVConfig
from crabplus.model.modular.model import ModularAVModel
from crabplus.model.modular.presets import build_modular_config, preset_dims
from crabplus.schema.layouts import MODULAR_MODEL_TYPE
from crabplus.schema.tokens import SPECIAL_TOKENS, special_token_ids
from crabplus.utils.errors import describe
from crabplus.utils.io import read_json, read_safetensors, read_safetensors_header

#: Each trainable part's submodules (``model.modular.trainable``).
PART_MODULES = {
    "vision": ("visual",),
    "audio": ("audio_tower",),
    "projectors": ("vision_projector", "audio_projector"),
    "llm": ("language_model",),
}
_VISION_TOWERS = {
    "clip": CLIPVisionModel,
    "clip_vision_model": CLIPVisionModel,
    "siglip": SiglipVisionModel,
    "siglip_vision_model": SiglipVisionModel,
}


def uses_parts(model_cfg: ModelConfig) -> bool:
    """Whether the model is built from the part checkpoints of ``model.modular`` (no ``model.checkpoint``)."""
    return model_cfg.checkpoint is None and model_cfg.names_parts


def parts_tokenizer(model_cfg: ModelConfig):
    """The LLM's own tokenizer (local files, no remote code) with the prompt layout's special tokens it lacks
    added as special tokens (a Qwen2.5 tokenizer lacks the audio and video placeholders, a LLaMA one all ten)."""
    path = _part_dir(model_cfg, "llm")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
    except Exception as exc:  # noqa: BLE001 - whatever the library says, the folder is the problem
        raise CheckpointError(f"model.modular.llm {path}: cannot load its tokenizer: {describe(exc)}") from exc
    vocab = tokenizer.get_vocab()
    missing = [t for t in SPECIAL_TOKENS.values() if t not in vocab]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    if tokenizer.unk_token in SPECIAL_TOKENS.values():
        # transformers' Qwen2 tokenizer class names <|endoftext|> its unknown token when a tokenizer_config.json
        # does not say otherwise; a byte-level BPE never emits an unknown token, and that one pads here
        tokenizer.unk_token = None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = SPECIAL_TOKENS["pad"]
    special_token_ids(tokenizer)
    return tokenizer


def build_modular(model_cfg: ModelConfig, tokenizer, device: str) -> ModularAVModel:
    """The modular model of ``model_cfg`` on ``device`` (see the module notes), its parts set to train or not."""
    dtype = resolve_dtype(model_cfg)
    if model_cfg.checkpoint is not None:
        path = Path(model_cfg.checkpoint)
        if not path.is_dir():
            raise CheckpointError(f"model.checkpoint {path}: not a directory")
        model = load_modular(path, model_cfg, dtype)
        source = f"model.checkpoint {path}"
    elif uses_parts(model_cfg):
        model = _from_parts(model_cfg, tokenizer, dtype)
        source = "model.modular parts"
    elif model_cfg.preset in TINY_PRESETS:
        dims = preset_dims(model_cfg.preset)
        settings = model_cfg.modular
        config = build_modular_config(
            dims,
            dims.vocab_size or len(tokenizer),
            special_token_ids(tokenizer),
            projector=settings.projector,
            vision_queries=settings.vision_queries,
            audio_queries=settings.audio_queries,
            vision_places=settings.vision_places,
            vision_positions=settings.vision_positions,
            vision_merge=settings.vision_merge,
            mrope_section=settings.mrope_section,
        )
        model = ModularAVModel(config, attn_implementation=model_cfg.attn_implementation).to(dtype)
        source = f"preset {model_cfg.preset!r}"
    else:
        raise CheckpointError(
            f"model.preset {model_cfg.preset!r} needs its parts on local disk: model.modular.vision "
            "(CLIP or SigLIP), model.modular.audio (Whisper) and model.modular.llm (a causal LM "
            "with its tokenizer), or model.checkpoint (a saved modular run)"
        )
    _check_fit(model, tokenizer, source)
    model = model.to(device)
    set_trainable(model, model_cfg.modular.trainable)
    if model_cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable({"use_reentrant": False})
    return model


def set_trainable(model: nn.Module, parts: list[str]) -> None:
    """Only the named parts' parameters train (an adapter, attached afterwards, freezes them all again)."""
    prefixes = tuple(f"{m}." for part in parts for m in PART_MODULES[part])
    for name, param in model.named_parameters():
        param.requires_grad_(name.startswith(prefixes))


def load_modular(path: Path, model_cfg: ModelConfig, dtype: torch.dtype) -> ModularAVModel:
    """A modular model from one of our saved folders (an adapter-only save: from the base it names)."""
    meta = read_json(
        path / META_FILE,
        CheckpointError,
        f"model.checkpoint {path}: no {META_FILE} (a modular model loads from a saved crabplus run; "
        "to start from released parts give model.modular.vision/audio/llm instead)",
    )
    if meta.get("base") != "included":
        return load_modular(resolve_base(path, meta), model_cfg, dtype)
    model_type = read_json(path / "config.json", CheckpointError).get("model_type")
    if model_type != MODULAR_MODEL_TYPE:
        raise CheckpointError(
            f"{path / 'config.json'}: field 'model_type' is {model_type!r}, a model.family "
            f"'modular' checkpoint has {MODULAR_MODEL_TYPE!r} (is this a unified model's folder?)"
        )
    try:
        config = ModularAVConfig.from_pretrained(str(path), local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure on this folder is the folder's
        raise CheckpointError(f"{path / 'config.json'}: cannot read the modular config: {describe(exc)}") from exc
    model = ModularAVModel(config, attn_implementation=model_cfg.attn_implementation)
    state = read_safetensors(path / "model.safetensors", CheckpointError)
    _load_exact(model, state, f"{path / 'model.safetensors'}")
    return model.to(dtype)


def _load_exact(module: nn.Module, state: dict, source: str) -> None:
    """``load_state_dict`` that names missing, unexpected and mis-shaped tensors in one CheckpointError."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or shapes:
        raise CheckpointError(
            f"{source}: does not fit the model: {len(missing)} missing (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}), {len(shapes)} of another "
            f"shape (e.g. {shapes[:3]})"
        )
    module.load_state_dict(state, strict=True)


def _part_dir(model_cfg: ModelConfig, part: str) -> Path:
    value = model_cfg.modular.parts[part]
    if value is None:
        raise CheckpointError(
            f"model.modular.{part}: missing; a modular model built from parts needs "
            "model.modular.vision, model.modular.audio and model.modular.llm"
        )
    path = Path(value)
    if not path.is_dir():
        raise CheckpointError(f"model.modular.{part} {path}: not a directory")
    return path


def _from_parts(model_cfg: ModelConfig, tokenizer, dtype: torch.dtype) -> ModularAVModel:
    attn = model_cfg.attn_implementation
    dirs = {part: _part_dir(model_cfg, part) for part in ("vision", "audio", "llm")}  # all named before any loads
    visual = _vision_tower(dirs["vision"], dtype, attn)
    audio = _whisper_encoder(dirs["audio"], dtype, attn)
    llm_dir = dirs["llm"]
    for weights in sorted(llm_dir.glob("*.safetensors")):
        read_safetensors_header(weights, CheckpointError)
    try:
        llm, info = AutoModelForCausalLM.from_pretrained(
            str(llm_dir), local_files_only=True, dtype=dtype, attn_implementation=attn, output_loading_info=True
        )
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"model.modular.llm {llm_dir}: cannot load a causal LM: {describe(exc)}") from exc
    _no_missing(info, f"model.modular.llm {llm_dir}")
    if len(tokenizer) > llm.get_input_embeddings().weight.shape[0]:
        llm.resize_token_embeddings(len(tokenizer))  # the placeholder tokens parts_tokenizer added
    settings = model_cfg.modular
    config = build_modular_config(
        preset_dims(model_cfg.preset),
        len(tokenizer),
        special_token_ids(tokenizer),
        projector=settings.projector,
        vision_queries=settings.vision_queries,
        audio_queries=settings.audio_queries,
        vision_places=settings.vision_places,
        vision_positions=settings.vision_positions,
        vision_merge=settings.vision_merge,
        mrope_section=settings.mrope_section,
        vision=visual.config,
        audio=audio.config,
        text=llm.config,
    )
    model = ModularAVModel(config, visual=visual, audio_tower=audio, language_model=llm, attn_implementation=attn)
    for projector in (model.vision_projector, model.audio_projector):
        projector.to(dtype)
    return model


def _no_missing(info: dict, source: str) -> None:
    missing = list(info.get("missing_keys") or [])
    if missing:
        raise CheckpointError(
            f"{source}: the weights lack {len(missing)} tensor(s) the model needs, e.g. "
            f"{missing[:3]}; the checkpoint is incomplete or of another model"
        )


def _vision_tower(path: Path, dtype: torch.dtype, attn: str) -> nn.Module:
    """CLIP's or SigLIP's vision tower from a local checkpoint of the whole model or of the tower alone."""
    model_type = read_json(path / "config.json", CheckpointError, f"model.modular.vision {path}: no config.json").get(
        "model_type"
    )
    if model_type not in _VISION_TOWERS:
        raise CheckpointError(
            f"{path / 'config.json'}: field 'model_type' is {model_type!r}; the vision part must "
            f"be one of {sorted(_VISION_TOWERS)}"
        )
    for weights in sorted(path.glob("*.safetensors")):
        read_safetensors_header(weights, CheckpointError)
    try:
        tower, info = _VISION_TOWERS[model_type].from_pretrained(
            str(path), local_files_only=True, dtype=dtype, attn_implementation=attn, output_loading_info=True
        )
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"model.modular.vision {path}: cannot load the vision tower: {describe(exc)}") from exc
    _no_missing(info, f"model.modular.vision {path}")
    return tower


def _whisper_encoder(path: Path, dtype: torch.dtype, attn: str) -> WhisperEncoder:
    """Whisper's encoder alone from a local Whisper checkpoint: only its ``model.encoder.*`` tensors are read."""
    try:
        config = AutoConfig.from_pretrained(str(path), local_files_only=True)
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"model.modular.audio {path}: cannot read its config: {describe(exc)}") from exc
    if config.model_type != "whisper":
        raise CheckpointError(
            f"{path / 'config.json'}: field 'model_type' is {config.model_type!r}; the audio part "
            "must be a Whisper checkpoint"
        )
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"model.modular.audio {path}: no .safetensors weights")
    state = {}
    for weights in files:
        for key, value in read_safetensors(weights, CheckpointError).items():
            for prefix in ("model.encoder.", "encoder."):
                if key.startswith(prefix):
                    state[key[len(prefix) :]] = value
    config._attn_implementation = attn
    encoder = WhisperEncoder(config)
    _load_exact(encoder, state, f"model.modular.audio {path} (its encoder)")
    return encoder.to(dtype)


def _check_fit(model: ModularAVModel, tokenizer, source: str) -> None:
    """The tokenizer's special ids are the config's placeholders and fit the LLM's vocabulary."""
    ids = special_token_ids(tokenizer)
    cfg = model.config
    vocab = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > vocab:
        raise CheckpointError(f"{source}: the tokenizer has {len(tokenizer)} tokens, the LLM's vocabulary {vocab}")
    pairs = {"audio": cfg.audio_token_id, "image": cfg.image_token_id, "video": cfg.video_token_id}
    wrong = [f"{k}: model {v}, tokenizer {ids[k]}" for k, v in pairs.items() if v != ids[k]]
    if wrong:
        raise CheckpointError(f"{source}: special token ids differ between model config and tokenizer: {wrong}")
