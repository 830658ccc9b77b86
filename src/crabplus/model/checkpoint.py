"""Saving and loading a model: base weights and/or the adapter alone, safetensors with JSON beside them.

Layout of a saved directory (files of other parts, e.g. the trainer's optimizer state, may sit beside):

    crabplus_model.json          {"format": 1, "model": {ModelConfig}, "base": "included" | "<base dir>",
                                  "base_path": "<absolute base dir at save time>"}
    config.json, model.safetensors, generation_config.json   the thinker's own weights, when "included"
    tokenizer files               (tokenizer.save_pretrained)
    adapter/                      the adapter alone (crabplus.adapters.save_adapter), unless adapter=none

The base is included when it cannot be rebuilt from disk: a model without adapter (the tiny base
stage trains every weight) or one whose base was random (``model.checkpoint`` None). Otherwise the
save is adapter-only and names the base directory, so a 7B run writes megabytes, not gigabytes. The
base is named relative to the checkpoint when it lies within the folder holding the run (a run folder
moved together with its base stays loadable), else by absolute path; ``--base`` overrides both.

Each file is written under a temporary name and renamed into place, and ``crabplus_model.json`` last,
so a directory holding it is complete; the trainer's checkpoint folders add their own whole-folder swap.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

from safetensors.torch import save_file
from torch import nn
from transformers import AutoTokenizer

from crabplus.adapters import is_adapter_key, is_peft, load_adapter, save_adapter
from crabplus.config.core import ConfigError, from_dict, to_dict
from crabplus.model.build import META_FILE, CheckpointError, base_reference, resolve_base
from crabplus.model.config import ModelConfig
from crabplus.model.family import build_backbone, register_family
from crabplus.utils.errors import describe
from crabplus.utils.io import apply_umask, atomic_write_json, make_temp_dir, read_json_object

FORMAT = 1
ADAPTER_DIR = "adapter"


def base_state_dict(model: nn.Module) -> dict:
    """The thinker's own weights by its own key names, without adapter tensors (PEFT's ``base_layer``
    indirection removed; I-LoRA layers keep the base keys unchanged)."""
    thinker = model.get_base_model() if is_peft(model) else model
    return {
        k.replace(".base_layer.", "."): v.detach().contiguous().clone()
        for k, v in thinker.state_dict().items()
        if not is_adapter_key(k)
    }


def _publish(tmp: Path, directory: Path) -> None:
    """Move every entry of ``tmp`` into ``directory`` (files by atomic rename), the meta file last."""
    entries = sorted(tmp.iterdir(), key=lambda p: p.name == META_FILE)
    for entry in entries:
        target = directory / entry.name
        if entry.is_dir():
            old = None
            if target.exists():
                old = directory / f".{entry.name}.old-{tmp.name}"
                target.rename(old)
            entry.rename(target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(entry, target)


def save_checkpoint(
    directory: str | Path, model: nn.Module, tokenizer, model_cfg: ModelConfig, include_base: bool | None = None
) -> Path:
    """Save ``model`` (with its adapter, if any) and ``tokenizer`` to ``directory`` (see module docs)."""
    directory = Path(directory)
    if include_base is None:
        include_base = model_cfg.adapter == "none" or model_cfg.checkpoint is None
    if not include_base and model_cfg.checkpoint is None:
        raise CheckpointError(f"{directory}: an adapter-only save needs model.checkpoint (the base to name)")
    directory.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(directory, ".save-")
    try:
        thinker = model.get_base_model() if is_peft(model) else model
        if include_base:
            # transformers' Auto classes read the class from here (AutoModelForImageTextToText, pipelines)
            thinker.config.architectures = [type(thinker).__name__]
            thinker.config.save_pretrained(tmp)
            if thinker.generation_config is not None:
                thinker.generation_config.save_pretrained(tmp)
            save_file(base_state_dict(model), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        tokenizer.save_pretrained(tmp)
        if model_cfg.adapter != "none":
            save_adapter(model, tmp / ADAPTER_DIR)
        base = {"base": "included"} if include_base else base_reference(model_cfg.checkpoint, directory)
        atomic_write_json(tmp / META_FILE, {"format": FORMAT, "model": to_dict(model_cfg), **base})
        apply_umask(tmp)  # safetensors writes 0600
        _publish(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return directory


def load_checkpoint(
    directory: str | Path, device=None, base: str | Path | None = None
) -> tuple[nn.Module, object, ModelConfig]:
    """(model with its adapter, tokenizer, model config) from a directory written by :func:`save_checkpoint`.

    The returned config's ``checkpoint`` names where the base weights came from, so saving it again
    adapter-only stays loadable. Adapter parameters come back trainable (resume); call ``model.eval()``
    for inference. ``base`` overrides where an adapter-only checkpoint's base model is (``--base``).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: not a directory (give a trained model folder, e.g. OUTPUT_DIR/final)")
    meta_path = directory / META_FILE
    meta = read_json_object(
        meta_path, CheckpointError, f"{directory}: no {META_FILE} (not a crabplus model checkpoint)"
    )
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path}: field 'format' is {meta.get('format')!r}, expected {FORMAT}")
    try:
        model_cfg = from_dict(ModelConfig, meta.get("model"), prefix="model")
    except ConfigError as exc:
        raise CheckpointError(f"{meta_path}: {exc}") from exc
    included = meta.get("base") == "included"
    base_dir = directory if included else resolve_base(directory, meta, base)
    model_cfg = dataclasses.replace(model_cfg, checkpoint=str(base_dir))
    register_family(model_cfg)  # before the tokenizer: AutoTokenizer reads config.json first
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever the library says, the folder is the problem
        raise CheckpointError(f"{directory}: cannot load its tokenizer: {describe(exc)}") from exc
    model = build_backbone(model_cfg, tokenizer, device=device)
    if model_cfg.adapter != "none":
        model = load_adapter(model, directory / ADAPTER_DIR)
    return model, tokenizer, model_cfg
