"""I-LoRA's own save and load (its row of :mod:`crabplus.adapters.kinds`), and the atomic directory every kind
is written into.

I-LoRA: ``adapter.safetensors`` (our layout, see :mod:`crabplus.adapters.official`) and
``adapter_config.json`` = {"adapter": "ilora", "format": 1, "config": {ILoRAConfig fields}, "modules": [...]}.
Plain LoRA keeps PEFT's own files (:mod:`crabplus.adapters.lora`).

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
from crabplus.adapters.official import load_native_state
from crabplus.config.core import ConfigError, from_dict, to_dict
from crabplus.utils.io import apply_umask, atomic_write_json, make_temp_dir, read_safetensors

ADAPTER_FILE = "adapter.safetensors"
CONFIG_FILE = "adapter_config.json"
FORMAT = 1
#: Settings that change what a loaded adapter computes (dropout and the balance weight only matter in training).
INFERENCE_FIELDS = (
    "rank",
    "alpha",
    "num_experts",
    "target_modules",
    "encoders",
    "top_k",
    "task_conditioned",
    "num_tasks",
)


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


def save_ilora(model: nn.Module, directory: Path) -> None:
    """Write the model's I-LoRA (our layout) into the existing directory ``directory``."""
    write_ilora(directory, adapter_state_dict(model), ilora_config(model), [name for name, _ in ilora_layers(model)])


def write_ilora(directory: Path, state: dict, config: ILoRAConfig, modules: list[str]) -> None:
    """Write our-layout I-LoRA tensors and their description into an existing directory."""
    state = {k: v.contiguous() for k, v in state.items()}
    save_file(state, str(directory / ADAPTER_FILE), metadata={"format": "pt", "adapter": "ilora"})
    meta = {"adapter": "ilora", "format": FORMAT, "config": to_dict(config), "modules": modules}
    atomic_write_json(directory / CONFIG_FILE, meta)


def load_ilora(model: nn.Module, directory: Path, meta: dict, trainable: bool = True) -> nn.Module:
    """Put the I-LoRA of ``directory`` (our layout; ``meta`` its parsed JSON) on ``model`` and return the model.

    I-LoRA layers are applied from the saved configuration when the model has none yet; the weights
    must then match key for key and shape for shape (:class:`AdapterLoadError` otherwise).
    """
    if meta.get("format") != FORMAT:
        raise AdapterLoadError(
            f"{directory / CONFIG_FILE}: field 'format': expected {FORMAT}, got {meta.get('format')!r}"
        )
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
            raise AdapterLoadError(
                f"{directory / CONFIG_FILE}: the model's I-LoRA differs in {differ}: "
                + ", ".join(f"{k} {getattr(current, k)!r} vs saved {getattr(config, k)!r}" for k in differ)
            )
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
