"""The adapter kinds, as one table (as PEFT keeps its methods): kind -> config class, apply, save, load.

Everything outside ``adapters/`` that depends on the kind of adapter goes through this table: the model
config checks ``model.adapter`` against it and reads the kind's settings (:func:`adapter_settings`), the
model builder applies it, a checkpoint saves and loads it. A new kind is its own files plus one
:func:`register_adapter` call; nothing else names it.

An adapted layer keeps the base's own parameter names (``weight``, ``bias``, as I-LoRA's layer does) or holds
the frozen layer as ``base_layer`` (PEFT's convention), and every adapter tensor's name holds ``.lora_``: a
checkpoint's base weights are the model's state minus those tensors, with ``.base_layer.`` removed.

A kind's ``save`` writes ``adapter_config.json`` (and its tensors) into a new directory; that JSON holds
``"adapter": <kind>`` or, for a kind stored in PEFT's layout, ``"peft_type": <kind's peft_type>``, which is how
:func:`load_adapter` finds the kind that reads it back. Its ``load`` puts the saved adapter on a model that has
none (or checks the one it has) and returns the model.

This module imports neither torch nor PEFT: reading a configuration stays cheap; the built-in kinds'
functions import their modules when called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crabplus.adapters.config import AdapterLoadError, ILoRAConfig, LoRAConfig
from crabplus.config.core import ConfigError

CONFIG_FILE = "adapter_config.json"


@dataclass(frozen=True)
class AdapterKind:
    """One row of the table.

    ``config_cls``: the dataclass of its settings. ``section``: the field of ``ModelConfig`` holding them
    (``ilora``, ``lora``); ``None`` for a kind added later, whose settings are ``model.adapter_options``.
    ``apply(model, settings) -> model`` puts it on a thinker and freezes the rest (``None``: the kind is a file
    layout that only loads). ``save(model, directory)`` writes it into an existing empty directory;
    ``load(model, directory, meta, trainable) -> model`` reads it back (``meta``: the parsed JSON). ``owns(model)``
    tells whether ``model`` carries this kind (the first row that says yes saves it). ``routed``: its layers
    have I-LoRA routers (task ids, balance loss, routing statistics). ``peft_type``: PEFT's name for the
    layout, when the files are PEFT's.
    """

    name: str
    config_cls: type
    apply: Callable[[Any, Any], Any] | None
    save: Callable[[Any, Path], None]
    load: Callable[[Any, Path, dict, bool], Any]
    owns: Callable[[Any], bool]
    section: str | None = None
    routed: bool = False
    peft_type: str | None = None


ADAPTER_KINDS: dict[str, AdapterKind] = {}

#: ``model.adapter`` for no adapter at all: every weight trains (the tiny base stage).
NO_ADAPTER = "none"


def register_adapter(kind: AdapterKind) -> AdapterKind:
    """Add ``kind`` to the table (its name must be new) and return it."""
    if not isinstance(kind, AdapterKind):
        raise TypeError(f"register_adapter: expected an AdapterKind, got {type(kind).__name__}")
    if kind.name in ADAPTER_KINDS or kind.name == NO_ADAPTER:
        raise ValueError(f"register_adapter: adapter kind {kind.name!r} is already registered")
    ADAPTER_KINDS[kind.name] = kind
    return kind


def unregister_adapter(name: str) -> None:
    """Remove a kind :func:`register_adapter` added after the built-in ones."""
    if name in BUILT_IN:
        raise ValueError(f"unregister_adapter: {name!r} is built in")
    del ADAPTER_KINDS[name]


def adapter_kind(name: str) -> AdapterKind:
    """The row of kind ``name``; an unknown name is an error listing the known."""
    if name not in ADAPTER_KINDS:
        raise ConfigError(f"model.adapter: expected one of {[*trainable_kinds(), NO_ADAPTER]}, got {name!r}")
    return ADAPTER_KINDS[name]


def trainable_kinds() -> list[str]:
    """The kinds ``model.adapter`` may name (those that apply, not only load)."""
    return [name for name, kind in ADAPTER_KINDS.items() if kind.apply is not None]


def apply_adapter(model, name: str, settings):
    """Put adapter kind ``name`` with ``settings`` on ``model``; returns the model (or its wrapper)."""
    kind = adapter_kind(name)
    if kind.apply is None:
        raise ConfigError(
            f"model.adapter: {name!r} is a file layout that loads only; train with one of {trainable_kinds()}"
        )
    return kind.apply(model, settings)


def save_adapter(model, directory: str | Path) -> Path:
    """Write the model's adapter alone to ``directory`` (atomically: the old content is replaced only when the
    new one is complete)."""
    from crabplus.adapters.io import atomic_directory

    kind = next((k for k in ADAPTER_KINDS.values() if k.owns(model)), None)
    if kind is None:
        raise ValueError("save_adapter: the model has no adapter (apply one first)")
    with atomic_directory(directory) as tmp:
        kind.save(model, tmp)
    return Path(directory)


def read_adapter_config(directory: str | Path) -> dict:
    """The adapter's JSON description, with ``"adapter"`` set to the kind that reads it back."""
    from crabplus.utils.io import read_json_object

    path = Path(directory) / CONFIG_FILE
    meta = read_json_object(path, AdapterLoadError, f"{directory}: no {CONFIG_FILE} (not an adapter directory)")
    peft_type = meta.get("peft_type")
    if peft_type is not None:
        # a kind's peft_type may carry a hint after a space (peft_method.HINT_TYPE: "ILORA (import ...)")
        peft_type = str(peft_type).split(" ")[0]
        kind = next((k for k in ADAPTER_KINDS.values() if k.peft_type == peft_type), None)
        if kind is None:
            raise AdapterLoadError(
                f"{path}: field 'peft_type': {peft_type!r} is not an adapter crabplus reads "
                f"(known: {[k.peft_type for k in ADAPTER_KINDS.values() if k.peft_type]})"
            )
        return {**meta, "adapter": kind.name}
    if meta.get("adapter") not in ADAPTER_KINDS:
        raise AdapterLoadError(
            f"{path}: field 'adapter': expected one of {list(ADAPTER_KINDS)}, got {meta.get('adapter')!r}"
        )
    return meta


def load_adapter(model, directory: str | Path, trainable: bool = True):
    """Load an adapter directory onto ``model`` and return the model (a new wrapper for PEFT layouts).

    The kind is read from the directory's JSON; the weights must fit the model key for key and shape for shape
    (:class:`AdapterLoadError` otherwise)."""
    directory = Path(directory)
    meta = read_adapter_config(directory)
    return ADAPTER_KINDS[meta["adapter"]].load(model, directory, meta, trainable)


# -- the built-in kinds: thin wrappers that import torch and PEFT only when called -------------------------------


def _apply_ilora(model, settings: ILoRAConfig):
    from crabplus.adapters.apply import apply_ilora

    return apply_ilora(model, settings)


def _save_ilora(model, directory: Path) -> None:
    from crabplus.adapters.io import save_ilora

    save_ilora(model, directory)


def _load_ilora(model, directory: Path, meta: dict, trainable: bool):
    from crabplus.adapters.io import load_ilora

    return load_ilora(model, directory, meta, trainable)


def _owns_ilora(model) -> bool:
    from crabplus.adapters.apply import ilora_config
    from crabplus.adapters.lora import is_peft

    return not is_peft(model) and ilora_config(model) is not None


def _apply_lora(model, settings: LoRAConfig):
    from crabplus.adapters.lora import apply_lora

    return apply_lora(model, settings)


def _save_peft(model, directory: Path) -> None:
    from crabplus.adapters.lora import save_peft

    save_peft(model, directory)


def _load_peft(model, directory: Path, meta: dict, trainable: bool):
    from crabplus.adapters.lora import load_peft

    if meta["adapter"] == "peft-ilora":
        import crabplus.adapters.peft_method  # noqa: F401  (registers I-LoRA with PEFT)
    return load_peft(model, directory, trainable)


def _owns_peft(peft_type: str) -> Callable[[Any], bool]:
    def owns(model) -> bool:
        from crabplus.adapters.lora import peft_type_of

        return peft_type_of(model) == peft_type

    return owns


register_adapter(
    AdapterKind("ilora", ILoRAConfig, _apply_ilora, _save_ilora, _load_ilora, _owns_ilora, section="ilora", routed=True)
)
register_adapter(
    AdapterKind(
        "lora", LoRAConfig, _apply_lora, _save_peft, _load_peft, _owns_peft("LORA"), section="lora", peft_type="LORA"
    )
)
# I-LoRA in PEFT's layout (crabplus.adapters.peft_method; `crabplus convert peft-ilora` writes it): loads only
register_adapter(
    AdapterKind(
        "peft-ilora",
        ILoRAConfig,
        None,
        _save_peft,
        _load_peft,
        _owns_peft("ILORA"),
        section="ilora",
        routed=True,
        peft_type="ILORA",
    )
)

BUILT_IN: tuple[str, ...] = tuple(ADAPTER_KINDS)
