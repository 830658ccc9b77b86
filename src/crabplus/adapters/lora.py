"""Plain LoRA through PEFT on the same layers as I-LoRA: the baseline of the transfer study; and the save and
load of every kind stored in PEFT's files (rows of :mod:`crabplus.adapters.kinds`).

The targets are resolved with the same rule as I-LoRA (:func:`~crabplus.adapters.apply.target_names`)
and handed to PEFT as full module names, so both adapters sit on exactly the same layers. The model is
wrapped in a generic ``PeftModel`` (no task type): forward and ``generate`` reach the thinker's own,
with its multimodal keyword arguments untouched.
"""

from __future__ import annotations

from pathlib import Path

from peft import LoraConfig as PeftLoraConfig
from peft import PeftModel, get_peft_model
from torch import nn

from crabplus.adapters.apply import freeze_base, target_names
from crabplus.adapters.config import AdapterLoadError, LoRAConfig
from crabplus.utils.io import read_safetensors


def apply_lora(model: nn.Module, config: LoRAConfig) -> PeftModel:
    """Wrap ``model`` with PEFT LoRA (rank, alpha, dropout from ``config``) on the I-LoRA targets; only
    the LoRA parameters train. Returns the ``PeftModel``."""
    names = target_names(model, config.target_modules, config.encoders)
    if not names:
        raise ValueError(f"apply_lora: no nn.Linear named {config.target_modules} in {type(model).__name__}")
    peft_config = PeftLoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=names,
        bias="none",
    )
    wrapped = get_peft_model(model, peft_config)
    freeze_base(wrapped)  # PEFT already does; the shared filter makes the rule one and the same
    return wrapped


def is_peft(model: nn.Module) -> bool:
    return isinstance(model, PeftModel)


def peft_type_of(model: nn.Module) -> str | None:
    """PEFT's name of the model's adapter method (``LORA``, ``ILORA``); None for a model PEFT does not wrap."""
    if not is_peft(model):
        return None
    return str(model.peft_config[model.active_adapter].peft_type.value)


def save_peft(model: PeftModel, directory: Path) -> None:
    """PEFT's own files: ``adapter_model.safetensors`` + ``adapter_config.json`` (``save_pretrained``)."""
    model.save_pretrained(directory, safe_serialization=True)


def load_peft(model: nn.Module, directory: Path, trainable: bool = True) -> PeftModel:
    """``PeftModel.from_pretrained`` on a local directory, reading safetensors only."""
    weights = directory / "adapter_model.safetensors"  # only safetensors: a .bin would be unpickled
    if not weights.is_file():  # else PEFT would take the path for a Hub repository
        raise AdapterLoadError(f"{directory}: no adapter_model.safetensors beside adapter_config.json")
    read_safetensors(weights, AdapterLoadError, weights=True)  # a damaged file is named before PEFT reads it
    try:
        return PeftModel.from_pretrained(model, str(directory.resolve()), is_trainable=trainable, local_files_only=True)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise AdapterLoadError(f"{directory}: cannot load the LoRA adapter: {exc}") from exc
