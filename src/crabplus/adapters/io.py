"""Adapter-only save and load: safetensors with the configuration as JSON beside it, written atomically.

I-LoRA: ``adapter.safetensors`` (our layout, see :mod:`crabplus.adapters.official`) and
``adapter_config.json`` = {"adapter": "ilora", "format": 1, "config": {ILoRAConfig fields}, "modules": [...]}.
Plain LoRA: PEFT's own ``adapter_model.safetensors`` + ``adapter_config.json`` (``save_pretrained``).

A directory is written under a temporary name beside its final place and renamed at the end, so a
crash leaves either the old directory or the complete new one.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from safetensors.torch import save_file
from torch import nn

from crabplus.adapters.apply import adapter_state_dict, apply_ilora, ilora_config, ilora_layers
from crabplus.adapters.config import AdapterLoadError, ILoRAConfig
from crabplus.adapters.lora import is_peft
from crabplus.adapters.official import load_native_state
from crabplus.config.core import ConfigError, from_dict, to_dict
from crabplus.utils.io import apply_umask, atomic_write_json, make_temp_dir, read_json_object, read_safetensors

ADAPTER_FILE = "adapter.safetensors"
CONFIG_FILE = "adapter_config.json"
FORMAT = 1
#: Settings that change what a loaded adapter computes (dropout and the balance weight only matter in training).
INFERENCE_FIELDS = ("rank", "alpha", "num_experts", "target_modules", "encoders", "top_k", "task_conditioned",
                    "num_tasks")


@contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a temporary directory; on success it replaces ``path`` (any old content is removed only
    after the new directory is in place). On an exception nothing at ``path`` changes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(path.parent, f".{path.name}.", ".tmp")
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    apply_umask(tmp)
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old-{tmp.name}")
        path.rename(old)
    tmp.rename(path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def save_adapter(model: nn.Module, directory: str | Path) -> Path:
    """Write the model's adapter alone (I-LoRA or PEFT LoRA) to ``directory``."""
    with atomic_directory(directory) as tmp:
        if is_peft(model):
            model.save_pretrained(tmp, safe_serialization=True)
        else:
            config = ilora_config(model)
            if config is None:
                raise ValueError("save_adapter: the model has no adapter (apply_ilora or apply_lora first)")
            write_ilora(tmp, adapter_state_dict(model), config, [name for name, _ in ilora_layers(model)])
    return Path(directory)


def write_ilora(directory: Path, state: dict, config: ILoRAConfig, modules: list[str]) -> None:
    """Write our-layout I-LoRA tensors and their description into an existing directory."""
    state = {k: v.contiguous() for k, v in state.items()}
    save_file(state, str(directory / ADAPTER_FILE), metadata={"format": "pt", "adapter": "ilora"})
    meta = {"adapter": "ilora", "format": FORMAT, "config": to_dict(config), "modules": modules}
    atomic_write_json(directory / CONFIG_FILE, meta)


def read_adapter_config(directory: str | Path) -> dict:
    """The adapter's JSON description; ``{"adapter": "lora", ...}`` for a PEFT directory."""
    path = Path(directory) / CONFIG_FILE
    meta = read_json_object(path, AdapterLoadError, f"{directory}: no {CONFIG_FILE} (not an adapter directory)")
    if meta.get("peft_type") == "LORA":
        return {"adapter": "lora", **meta}
    if str(meta.get("peft_type")).split(" ")[0] == "ILORA":  # I-LoRA in PEFT's layout (peft_method.HINT_TYPE)
        return {"adapter": "peft-ilora", **meta}
    if meta.get("adapter") != "ilora" or meta.get("format") != FORMAT:
        raise AdapterLoadError(f"{path}: field 'adapter'/'format': expected ilora/{FORMAT}, got "
                               f"{meta.get('adapter')!r}/{meta.get('format')!r}")
    return meta


def load_adapter(model: nn.Module, directory: str | Path, trainable: bool = True) -> nn.Module:
    """Load an adapter directory onto ``model`` and return the model (a new ``PeftModel`` for LoRA).

    I-LoRA layers are applied from the saved configuration when the model has none yet; the weights
    must then match key for key and shape for shape (:class:`AdapterLoadError` otherwise).
    """
    directory = Path(directory)
    meta = read_adapter_config(directory)
    if meta["adapter"] in ("lora", "peft-ilora"):
        from peft import PeftModel

        if meta["adapter"] == "peft-ilora":
            import crabplus.adapters.peft_method  # noqa: F401  (registers I-LoRA with PEFT)

        weights = directory / "adapter_model.safetensors"  # only safetensors: a .bin would be unpickled
        if not weights.is_file():  # else PEFT would take the path for a Hub repository
            raise AdapterLoadError(f"{directory}: no adapter_model.safetensors beside {CONFIG_FILE}")
        read_safetensors(weights, AdapterLoadError, weights=True)  # a damaged file is named before PEFT reads it
        try:
            return PeftModel.from_pretrained(model, str(directory.resolve()), is_trainable=trainable,
                                             local_files_only=True)
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            raise AdapterLoadError(f"{directory}: cannot load the LoRA adapter: {exc}") from exc
    try:
        config = from_dict(ILoRAConfig, meta.get("config"), prefix="config")
    except ConfigError as exc:
        raise AdapterLoadError(f"{directory / CONFIG_FILE}: {exc}") from exc
    current = ilora_config(model)
    if current is None:
        apply_ilora(model, config)
    else:
        differ = [k for k in INFERENCE_FIELDS if getattr(current, k) != getattr(config, k)]
        if differ:
            raise AdapterLoadError(f"{directory / CONFIG_FILE}: the model's I-LoRA differs in {differ}: "
                                   + ", ".join(f"{k} {getattr(current, k)!r} vs saved {getattr(config, k)!r}"
                                               for k in differ))
    modules = {name for name, _ in ilora_layers(model)}
    saved = set(meta.get("modules") or [])
    if modules != saved:
        raise AdapterLoadError(
            f"{directory / CONFIG_FILE}: field 'modules' names {len(saved)} adapted layers, the model has "
            f"{len(modules)}; differing: {sorted(saved ^ modules)[:10]}"
        )
    weights = directory / ADAPTER_FILE
    if not weights.is_file():
        raise AdapterLoadError(f"{directory}: no {ADAPTER_FILE} beside {CONFIG_FILE}")
    load_native_state(model, read_safetensors(weights, AdapterLoadError, weights=True), source=str(weights))
    if not trainable:
        for param in model.parameters():
            param.requires_grad_(False)
    return model
