"""Building the backbone (transformers' ``Qwen2_5OmniThinkerForConditionalGeneration``) and attaching
an adapter.

``model.checkpoint`` may name, on local disk only (nothing is ever downloaded):
- a released Qwen2.5-Omni directory (``config.json`` of model_type ``qwen2_5_omni``): only the thinker is
  built and loaded; the talker and token2wav weights are skipped by transformers' loader, which also
  maps the release's key names (``thinker.model.layers…``) onto 5.24's (``model.language_model.layers…``);
- a thinker-only directory (model_type ``qwen2_5_omni_thinker``);
- one of our saved checkpoints (:mod:`crabplus.model.checkpoint`): its base weights, or, for an
  adapter-only save, the base it names.
Without a checkpoint the ``tiny`` preset is built with random weights (the real presets need one).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn
from transformers import Qwen2_5OmniConfig, Qwen2_5OmniThinkerConfig, Qwen2_5OmniThinkerForConditionalGeneration

from crabplus.adapters.kinds import NO_ADAPTER, apply_adapter
from crabplus.model.config import SHIPPED, TINY_PRESETS, ModelConfig, checkpoint_path
from crabplus.model.init import init_audio_stem
from crabplus.model.presets import build_thinker_config, preset_dims
from crabplus.schema.tokens import special_token_ids
from crabplus.utils.errors import CrabplusError, describe
from crabplus.utils.io import read_json_object

Thinker = Qwen2_5OmniThinkerForConditionalGeneration
META_FILE = "crabplus_model.json"  # marks one of our saved checkpoints (crabplus.model.checkpoint)

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class CheckpointError(CrabplusError, ValueError):
    """A model checkpoint directory is missing, of an unknown kind, or does not fit the config/tokenizer."""


def resolve_dtype(model_cfg: ModelConfig) -> torch.dtype:
    """``auto``: bfloat16 for the real presets on a GPU (as the release), float32 otherwise (the tiny
    model trains all its weights, and CPUs gain nothing from half precision)."""
    if model_cfg.dtype != "auto":
        return _DTYPES[model_cfg.dtype]
    return torch.bfloat16 if model_cfg.preset not in TINY_PRESETS and torch.cuda.is_available() else torch.float32


def _default_device(model_cfg: ModelConfig) -> str:
    return "cuda" if model_cfg.preset not in TINY_PRESETS and torch.cuda.is_available() else "cpu"


def checkpoint_kind(path: Path) -> str:
    """``ours`` | ``release`` | ``thinker``; a CheckpointError names the path otherwise."""
    if (path / META_FILE).is_file():
        return "ours"
    config = path / "config.json"
    model_type = read_json_object(
        config, CheckpointError, f"model.checkpoint {path}: no config.json or {META_FILE} (not a model directory)"
    ).get("model_type")
    kinds = {"qwen2_5_omni": "release", "qwen2_5_omni_thinker": "thinker"}
    if model_type not in kinds:
        raise CheckpointError(f"{config}: field 'model_type' is {model_type!r}; expected one of {sorted(kinds)}")
    return kinds[model_type]


def _load(path: Path, model_cfg: ModelConfig, device: str, config: Qwen2_5OmniThinkerConfig | None = None) -> Thinker:
    """from_pretrained on a local directory; a wrong shape, a damaged weight file or a missing tensor is a
    CheckpointError (transformers would fill a missing tensor with random values and carry on).
    transformers' own "Loading weights" bar follows our progress setting (quiet under CI)."""
    from transformers.utils import logging as hf_logging

    from crabplus.utils.io import read_safetensors_header
    from crabplus.utils.progress import progress_enabled

    if not progress_enabled():
        hf_logging.disable_progress_bar()
    for weights in sorted(path.glob("model*.safetensors")):  # what from_pretrained reads (a training
        # checkpoint's folder also holds its optimizer and random-generator states, not weights)
        # empty, truncated, a pickle renamed, an int8 tensor: named here
        read_safetensors_header(weights, CheckpointError, weights=True)
    try:
        model, info = Thinker.from_pretrained(
            path,
            config=config,
            dtype=resolve_dtype(model_cfg),
            attn_implementation=model_cfg.attn_implementation,
            device_map=device,
            local_files_only=True,
            output_loading_info=True,
        )
    except Exception as exc:  # noqa: BLE001 - any failure of the library on this folder is the folder's
        raise CheckpointError(f"model.checkpoint {path}: cannot load the thinker: {describe(exc)}") from exc
    missing = list(info.get("missing_keys") or [])
    if missing:
        raise CheckpointError(
            f"model.checkpoint {path}: the weights lack {len(missing)} tensor(s) the model needs, "
            f"e.g. {missing[:3]}; the checkpoint is incomplete or of another model"
        )
    return model


def base_reference(base: str | Path, checkpoint_dir: str | Path) -> dict[str, str]:
    """How a saved adapter-only checkpoint names its base: relative to the checkpoint folder when the
    base lies within the folder that holds the run (so a run folder moved or copied with its base
    stays loadable), else by absolute path; the absolute path at save time is kept as a second try."""
    if str(base) == SHIPPED:  # the package's own base: found wherever the package is installed
        return {"base": SHIPPED, "base_path": str(checkpoint_path(SHIPPED))}
    base_abs = Path(base).resolve()
    rel = os.path.relpath(base_abs, Path(checkpoint_dir).resolve())
    parts = Path(rel).parts
    ups = len(parts) - len([p for p in parts if p != ".."])
    ref = rel if ups <= 2 and not os.path.isabs(rel) else str(base_abs)
    return {"base": ref, "base_path": str(base_abs)}


def resolve_base(checkpoint_dir: str | Path, meta: dict, override: str | Path | None = None) -> Path:
    """The base directory an adapter-only checkpoint builds on: ``override`` (``--base``) when given, else
    ``base`` (relative to the checkpoint, or absolute), else ``base_path``; a CheckpointError names
    every place looked at and how to point at the base."""
    checkpoint_dir = Path(checkpoint_dir)
    if override is not None:
        if not Path(override).is_dir():
            raise CheckpointError(f"--base {override}: not a directory (the base model of {checkpoint_dir})")
        return Path(override)
    base = meta.get("base")
    if not isinstance(base, str) or not base:
        raise CheckpointError(f"{checkpoint_dir / META_FILE}: field 'base' must be 'included' or the base's directory")
    tried = [checkpoint_path(SHIPPED) if base == SHIPPED else checkpoint_dir / base]
    if isinstance(meta.get("base_path"), str):
        tried.append(Path(meta["base_path"]))
    for candidate in tried:
        if candidate.is_dir():
            return candidate
    raise CheckpointError(
        f"{checkpoint_dir}: its base model is not found at {' nor '.join(map(str, tried))} "
        "(the run folder was moved without it?); give the base folder with --base "
        "(crabplus predict) or model.checkpoint=DIR"
    )


def load_pretrained(path: Path, model_cfg: ModelConfig, device: str) -> Thinker:
    """The thinker from a local directory of any kind that :func:`checkpoint_kind` knows."""
    kind = checkpoint_kind(path)
    if kind == "ours":
        meta = read_json_object(path / META_FILE, CheckpointError)
        if meta.get("base") == "included":
            return _load(path, model_cfg, device)
        return load_pretrained(resolve_base(path, meta), model_cfg, device)
    if kind == "release":
        thinker_config = Qwen2_5OmniConfig.from_pretrained(path, local_files_only=True).thinker_config
        return _load(path, model_cfg, device, config=thinker_config)
    return _load(path, model_cfg, device)


def _check_fit(model: Thinker, model_cfg: ModelConfig, tokenizer, source: str) -> None:
    """The loaded shapes match the preset and the tokenizer's special ids match the config's."""
    text = model.config.text_config
    dims = preset_dims(model_cfg.preset)
    have = (text.hidden_size, text.num_hidden_layers, text.num_attention_heads)
    want = (dims.hidden_size, dims.num_layers, dims.num_heads)
    if have != want:
        raise CheckpointError(
            f"{source}: hidden size, layers, heads are {have}; model.preset {model_cfg.preset!r} has {want}"
        )
    ids = special_token_ids(tokenizer)
    if len(tokenizer) > text.vocab_size:
        raise CheckpointError(
            f"{source}: the tokenizer has {len(tokenizer)} tokens, the model's vocabulary {text.vocab_size}"
        )
    cfg = model.config
    if getattr(cfg, "vision_start_token_id", None) is None:  # get_rope_index needs it; not every config has it
        cfg.vision_start_token_id = ids["vision_bos"]
    pairs = {
        "audio": cfg.audio_token_id,
        "image": cfg.image_token_id,
        "video": cfg.video_token_id,
        "audio_bos": cfg.audio_start_token_id,
        "audio_eos": cfg.audio_end_token_id,
        "vision_bos": cfg.vision_start_token_id,
    }
    wrong = [f"{k}: model {v}, tokenizer {ids[k]}" for k, v in pairs.items() if v != ids[k]]
    if wrong:
        raise CheckpointError(f"{source}: special token ids differ between model config and tokenizer: {wrong}")


def build_thinker(model_cfg: ModelConfig, tokenizer, device: str | torch.device | None = None) -> Thinker:
    """The thinker of ``model_cfg``: random weights from the preset, or loaded from ``model_cfg.checkpoint``.

    ``device``: where to put it (default: a GPU for the real presets when there is one, else the CPU).
    """
    device = str(device) if device is not None else _default_device(model_cfg)
    if model_cfg.checkpoint is None:
        if model_cfg.preset != "tiny":
            raise CheckpointError(
                f"model.preset {model_cfg.preset!r} needs model.checkpoint: a local directory "
                "holding the released Qwen2.5-Omni weights"
            )
        dims = preset_dims(model_cfg.preset)
        config = build_thinker_config(dims, dims.vocab_size or len(tokenizer), special_token_ids(tokenizer))
        model = Thinker._from_config(
            config, attn_implementation=model_cfg.attn_implementation, dtype=resolve_dtype(model_cfg)
        ).to(device)
        init_audio_stem(model)  # a from-scratch base must be able to hear: see crabplus.model.init
        source = f"preset {model_cfg.preset!r}"
    else:
        path = checkpoint_path(model_cfg.checkpoint)
        if not path.is_dir():
            raise CheckpointError(f"model.checkpoint {path}: not a directory")
        model = load_pretrained(path, model_cfg, device)
        source = f"model.checkpoint {path}"
    _check_fit(model, model_cfg, tokenizer, source)
    if model_cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def attach_adapter(model: nn.Module, model_cfg: ModelConfig) -> nn.Module:
    """Put ``model_cfg.adapter`` on the thinker through the adapter table (``ilora`` in place, ``lora`` as a PEFT
    wrapper, which is returned), or nothing for ``none`` (every weight trains: the tiny base stage). Adapters
    freeze the base."""
    if model_cfg.adapter == NO_ADAPTER:
        return model
    return apply_adapter(model, model_cfg.adapter, model_cfg.adapter_settings())
