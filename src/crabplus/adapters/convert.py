"""Converting adapter files: the release's ``finetune_weights.bin`` to our layout or PEFT's, and our I-LoRA to PEFT's
(``crabplus convert``, which prints what these return).

The release's torch pickle is read with ``weights_only=True`` (no code in it runs); its key layout, shapes and
layers are checked (every layer of each adapted part must have all its modules) before anything is written, and
the output directory is written atomically.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from crabplus.adapters.config import (
    RELEASE_TARGET_MODULES,
    AdapterLoadError,
    ILoRAConfig,
    OfficialConvertConfig,
    PeftConvertConfig,
)

#: Our paths of the three parts the release adapts, and the modules each layer has there.
SECTIONS = {
    "LLM": re.compile(r"^model\.language_model\.layers\.(\d+)\.(.+)$"),
    "audio encoder": re.compile(r"^model\.audio_tower\.layers\.(\d+)\.(.+)$"),
    "vision encoder": re.compile(r"^model\.visual\.blocks\.(\d+)\.(.+)$"),
}


@dataclass
class Converted:
    """What a conversion read and wrote: the source, its tensor count, the adapter's settings, the adapted
    modules and one line per adapted part of the thinker."""

    source: Path
    tensors: int
    config: ILoRAConfig
    modules: int
    parts: list[str]


def layer_report(paths: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(one line per adapted part, modules missing from some layer, paths outside the thinker's parts)."""
    lines, missing, outside = [], [], []
    matched = set()
    for section, pattern in SECTIONS.items():
        layers: dict[int, set[str]] = {}
        for path in paths:
            match = pattern.match(path)
            if match:
                matched.add(path)
                layers.setdefault(int(match[1]), set()).add(match[2])
        if not layers:
            continue
        modules = set().union(*layers.values())
        count = max(layers) + 1
        for i in range(count):
            missing += [f"{section} layer {i}: {m}" for m in sorted(modules - layers.get(i, set()))]
        lines.append(f"{section}: {count} layers x {len(modules)} modules ({', '.join(sorted(modules))})")
    outside = sorted(set(paths) - matched)
    return lines, missing, outside


def read_release_file(source: Path, expect_tensors: int | None = None) -> dict:
    """The release's tensors by name; an empty, foreign or unpicklable-without-code file is an error naming it."""
    import torch

    if not source.is_file():
        raise AdapterLoadError(f"{source}: no such file")
    if source.stat().st_size == 0:
        raise AdapterLoadError(f"{source}: the file is empty (0 bytes); download it again")
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever torch.load trips over, the user's file is the cause
        raise AdapterLoadError(
            f"{source}: not a plain tensor checkpoint readable with weights_only=True: {str(exc).splitlines()[0]}"
        ) from exc
    if not isinstance(state, dict):
        raise AdapterLoadError(f"{source}: expected a dict of name -> tensor, got {type(state).__name__}")
    if expect_tensors is not None and len(state) != expect_tensors:
        raise AdapterLoadError(f"{source}: {len(state)} tensors, expected {expect_tensors}")
    return state


def convert_official_file(cfg: OfficialConvertConfig) -> Converted:
    """The release's file ``cfg.source`` -> the adapter directory ``cfg.out`` (our layout or PEFT's)."""
    from crabplus.adapters.io import atomic_directory, write_ilora
    from crabplus.adapters.official import official_to_native

    source = Path(cfg.source)
    state = read_release_file(source, cfg.expect_tensors)
    native, num_experts = official_to_native(state, source=str(source))
    ranks = {v.shape[0] for k, v in native.items() if k.endswith(".lora_A.weight")}
    if len(ranks) != 1:
        raise AdapterLoadError(f"{source}: modules disagree on the rank: {sorted(ranks)}")
    paths = sorted(k.removesuffix(".lora_A.weight") for k in native if k.endswith(".lora_A.weight"))
    lines, missing, outside = layer_report(paths)
    if outside:
        raise AdapterLoadError(
            f"{source}: {len(outside)} module paths are not in a Qwen2.5-Omni thinker's "
            f"LLM/audio/vision layers, e.g. {outside[:5]}"
        )
    if missing:
        raise AdapterLoadError(f"{source}: {len(missing)} modules missing from some layers, e.g. {missing[:10]}")
    names = sorted({p.rsplit(".", 1)[1] for p in paths})
    targets = list(RELEASE_TARGET_MODULES) if set(names) <= set(RELEASE_TARGET_MODULES) else names
    encoders = any(not p.startswith("model.language_model.") for p in paths)
    config = ILoRAConfig(
        rank=ranks.pop(),
        alpha=cfg.alpha,
        num_experts=num_experts,
        dropout=cfg.dropout,
        target_modules=targets,
        encoders=encoders,
    )
    with atomic_directory(cfg.out) as tmp:
        if cfg.layout == "peft":
            from crabplus.adapters.peft_method import write_peft_ilora

            write_peft_ilora(tmp, native, config)
        else:
            write_ilora(tmp, native, config, paths)
    return Converted(source, len(state), config, len(paths), lines)


def convert_to_peft(cfg: PeftConvertConfig) -> Converted:
    """Our I-LoRA adapter directory (or a checkpoint folder's ``adapter/``) ``cfg.source`` -> PEFT's layout in
    ``cfg.out``: the same tensors under PEFT's key names."""
    from safetensors.torch import load_file

    from crabplus.adapters.io import ADAPTER_FILE, atomic_directory
    from crabplus.adapters.kinds import read_adapter_config
    from crabplus.adapters.peft_method import write_peft_ilora
    from crabplus.config.core import ConfigError, from_dict

    source = Path(cfg.source)
    if (source / "adapter").is_dir():
        source = source / "adapter"  # a checkpoint folder written by training
    meta = read_adapter_config(source)
    if meta["adapter"] != "ilora":
        raise AdapterLoadError(f"{source}: a {meta['adapter']!r} adapter, not I-LoRA (it already is PEFT's layout)")
    try:
        config = from_dict(ILoRAConfig, meta.get("config"), prefix="config")
    except ConfigError as exc:
        raise AdapterLoadError(f"{source}: {exc}") from exc
    weights = source / ADAPTER_FILE
    if not weights.is_file():
        raise AdapterLoadError(f"{source}: no {ADAPTER_FILE}")
    state = load_file(str(weights))
    with atomic_directory(cfg.out) as tmp:
        write_peft_ilora(tmp, state, config, base_model_name_or_path=cfg.base)
    return Converted(source, len(state), config, len(meta.get("modules") or []), [])
