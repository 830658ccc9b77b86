"""``crabplus convert``: convert checkpoints (e.g. the release's finetune_weights.bin to safetensors).

    crabplus convert official-ilora finetune_weights.bin OUT/ [--alpha 256] [--dropout 0.1] [--expect-tensors 1940]
                                                               [--layout crabplus|peft]
    crabplus convert peft-ilora ADAPTER_OR_CHECKPOINT OUT/    # our I-LoRA adapter -> PEFT's layout

reads the release's torch pickle with ``weights_only=True`` (no code in it runs), checks the key layout,
the shapes and that every layer of each adapted part has all its modules, and writes OUT/ as an
adapter directory (``adapter.safetensors`` + ``adapter_config.json``) that ``crabplus.adapters.load_adapter``
and ``model.checkpoint`` runs read. Paths are mapped to transformers 5.24's thinker names and the heads
stacked (see :mod:`crabplus.adapters.official`). alpha is not stored in the release's file: pass it.
``--layout peft`` writes PEFT's layout instead (``adapter_model.safetensors`` + an ``ILORA`` adapter_config.json,
:mod:`crabplus.adapters.peft_method`), which ``PeftModel.from_pretrained`` loads once crabplus's PEFT method is
imported.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

#: Our paths of the three parts the release adapts, and the modules each layer has there.
SECTIONS = {
    "LLM": re.compile(r"^model\.language_model\.layers\.(\d+)\.(.+)$"),
    "audio encoder": re.compile(r"^model\.audio_tower\.layers\.(\d+)\.(.+)$"),
    "vision encoder": re.compile(r"^model\.visual\.blocks\.(\d+)\.(.+)$"),
}


def register(sub) -> None:
    from crabplus.adapters.config import OfficialConvertConfig, PeftConvertConfig
    from crabplus.config.cli import add_config_arguments

    parser = sub.add_parser("convert", help="convert checkpoints (e.g. the release's finetune_weights.bin to "
                                            "safetensors)",
                            description="Convert checkpoints. `official-ilora`: the official Crab+ adapter "
                                        "(finetune_weights.bin) to a safetensors adapter directory.")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    official = kinds.add_parser("official-ilora", help="the release's finetune_weights.bin -> adapter directory",
                                description="Read the release's torch pickle with weights_only=True, check its "
                                            "keys, shapes and layers, and write an adapter directory "
                                            "(adapter.safetensors + adapter_config.json). Settings: --config FILE, "
                                            "then the flags, then KEY=VALUE overrides.")
    official.add_argument("paths", nargs="*", metavar="SOURCE OUT",
                          help="the release's file and the adapter directory to write (keys source, out)")
    add_config_arguments(official, OfficialConvertConfig, shortcuts=("alpha", "dropout", "expect_tensors", "layout"),
                         positional_overrides=False)
    official.set_defaults(func=convert_official)
    peft = kinds.add_parser("peft-ilora", help="our I-LoRA adapter (or a checkpoint folder) -> PEFT's layout",
                            description="Rewrite an I-LoRA adapter directory (adapter.safetensors + "
                                        "adapter_config.json), or a trained checkpoint folder's adapter/, as a PEFT "
                                        "adapter directory that PeftModel.from_pretrained loads once "
                                        "crabplus.adapters.peft_method is imported. Same tensors, renamed keys.")
    peft.add_argument("paths", nargs="*", metavar="SOURCE OUT",
                      help="an I-LoRA adapter directory or a checkpoint folder with adapter/, and the PEFT adapter "
                           "directory to write (keys source, out)")
    add_config_arguments(peft, PeftConvertConfig, shortcuts=("base",), positional_overrides=False)
    peft.set_defaults(func=convert_to_peft)


def _settings(cls: type, args: argparse.Namespace):
    """The command's settings: SOURCE and OUT from the positionals (KEY=VALUE overrides may follow them)."""
    from crabplus.cli.main import UsageError
    from crabplus.config.cli import config_from_args, split_overrides

    paths, overrides = split_overrides(args.paths)
    if len(paths) > 2:
        raise UsageError(f"expected SOURCE and OUT, got {len(paths)} paths: {' '.join(paths)}")
    cfg = config_from_args(cls, args, overrides=overrides, values=dict(zip(("source", "out"), paths)) or None)
    if cfg.source is None or cfg.out is None:
        raise UsageError("needs SOURCE and OUT (or source: and out: in --config)")
    return cfg


def _layer_report(paths: list[str]) -> tuple[list[str], list[str], list[str]]:
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


def convert_official(args: argparse.Namespace) -> int:
    import torch

    from crabplus.adapters import AdapterLoadError, ILoRAConfig
    from crabplus.adapters.config import RELEASE_TARGET_MODULES, OfficialConvertConfig
    from crabplus.adapters.io import atomic_directory, write_ilora
    from crabplus.adapters.official import RELEASE_TENSOR_COUNT, official_to_native

    cfg = _settings(OfficialConvertConfig, args)
    source = Path(cfg.source)
    if not source.is_file():
        raise AdapterLoadError(f"{source}: no such file")
    if source.stat().st_size == 0:
        raise AdapterLoadError(f"{source}: the file is empty (0 bytes); download it again")
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever torch.load trips over, the user's file is the cause
        raise AdapterLoadError(f"{source}: not a plain tensor checkpoint readable with weights_only=True: "
                               f"{str(exc).splitlines()[0]}") from exc
    if not isinstance(state, dict):
        raise AdapterLoadError(f"{source}: expected a dict of name -> tensor, got {type(state).__name__}")
    if cfg.expect_tensors is not None and len(state) != cfg.expect_tensors:
        raise AdapterLoadError(f"{source}: {len(state)} tensors, expected {cfg.expect_tensors}")
    native, num_experts = official_to_native(state, source=str(source))
    ranks = {v.shape[0] for k, v in native.items() if k.endswith(".lora_A.weight")}
    if len(ranks) != 1:
        raise AdapterLoadError(f"{source}: modules disagree on the rank: {sorted(ranks)}")
    paths = sorted(k.removesuffix(".lora_A.weight") for k in native if k.endswith(".lora_A.weight"))
    lines, missing, outside = _layer_report(paths)
    if outside:
        raise AdapterLoadError(f"{source}: {len(outside)} module paths are not in a Qwen2.5-Omni thinker's "
                               f"LLM/audio/vision layers, e.g. {outside[:5]}")
    if missing:
        raise AdapterLoadError(f"{source}: {len(missing)} modules missing from some layers, e.g. {missing[:10]}")
    names = sorted({p.rsplit(".", 1)[1] for p in paths})
    targets = list(RELEASE_TARGET_MODULES) if set(names) <= set(RELEASE_TARGET_MODULES) else names
    encoders = any(not p.startswith("model.language_model.") for p in paths)
    config = ILoRAConfig(rank=ranks.pop(), alpha=cfg.alpha, num_experts=num_experts, dropout=cfg.dropout,
                         target_modules=targets, encoders=encoders)
    with atomic_directory(cfg.out) as tmp:
        if cfg.layout == "peft":
            from crabplus.adapters.peft_method import write_peft_ilora

            write_peft_ilora(tmp, native, config)
        else:
            write_ilora(tmp, native, config, paths)
    release = " (the release's count)" if len(state) == RELEASE_TENSOR_COUNT else ""
    print(f"{source}: {len(state)} tensors{release}, {len(paths)} modules, r={config.rank}, N={num_experts}, "
          f"alpha={config.alpha}")
    for line in lines:
        print(f"  {line}")
    print(f"wrote {cfg.out}")
    return 0


def convert_to_peft(args: argparse.Namespace) -> int:
    from safetensors.torch import load_file

    from crabplus.adapters import AdapterLoadError, ILoRAConfig
    from crabplus.adapters.config import PeftConvertConfig
    from crabplus.adapters.io import ADAPTER_FILE, atomic_directory
    from crabplus.adapters.kinds import read_adapter_config
    from crabplus.adapters.peft_method import write_peft_ilora
    from crabplus.config.core import ConfigError, from_dict

    cfg = _settings(PeftConvertConfig, args)
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
    print(f"{source}: {len(state)} tensors, r={config.rank}, N={config.num_experts}, alpha={config.alpha}")
    print(f"wrote {cfg.out} (PEFT layout: adapter_model.safetensors + adapter_config.json)")
    return 0
