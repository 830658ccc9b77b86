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
    parser = sub.add_parser("convert", help="convert checkpoints (e.g. the release's finetune_weights.bin to "
                                            "safetensors)",
                            description="Convert checkpoints. `official-ilora`: the official Crab+ adapter "
                                        "(finetune_weights.bin) to a safetensors adapter directory.")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    official = kinds.add_parser("official-ilora", help="the release's finetune_weights.bin -> adapter directory",
                                description="Read the release's torch pickle with weights_only=True, check its "
                                            "keys, shapes and layers, and write an adapter directory "
                                            "(adapter.safetensors + adapter_config.json).")
    official.add_argument("source", type=Path, help="the release's finetune_weights.bin (or lora_weights.bin)")
    official.add_argument("out", type=Path, help="the adapter directory to write")
    official.add_argument("--alpha", type=float, default=256.0, help="LoRA alpha the file was trained with "
                                                                     "(release: 256; scale = alpha / r)")
    official.add_argument("--dropout", type=float, default=0.1, help="adapter dropout to record (release: 0.1)")
    official.add_argument("--expect-tensors", type=int, default=None,
                          help="fail unless the file holds exactly this many tensors (the release: 1940)")
    official.add_argument("--layout", choices=("crabplus", "peft"), default="crabplus",
                          help="crabplus: adapter.safetensors (load_adapter, checkpoints); peft: PEFT's "
                               "adapter_model.safetensors for PeftModel.from_pretrained")
    official.set_defaults(func=convert_official)
    peft = kinds.add_parser("peft-ilora", help="our I-LoRA adapter (or a checkpoint folder) -> PEFT's layout",
                            description="Rewrite an I-LoRA adapter directory (adapter.safetensors + "
                                        "adapter_config.json), or a trained checkpoint folder's adapter/, as a PEFT "
                                        "adapter directory that PeftModel.from_pretrained loads once "
                                        "crabplus.adapters.peft_method is imported. Same tensors, renamed keys.")
    peft.add_argument("source", type=Path, help="an I-LoRA adapter directory or a checkpoint folder with adapter/")
    peft.add_argument("out", type=Path, help="the PEFT adapter directory to write")
    peft.add_argument("--base", default=None, metavar="DIR",
                      help="base_model_name_or_path to record (default: a checkpoint folder's base model, as an "
                      "absolute path)")
    peft.set_defaults(func=convert_to_peft)


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
    from crabplus.adapters.config import RELEASE_TARGET_MODULES
    from crabplus.adapters.io import atomic_directory, write_ilora
    from crabplus.adapters.official import RELEASE_TENSOR_COUNT, official_to_native

    source = args.source
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
    if args.expect_tensors is not None and len(state) != args.expect_tensors:
        raise AdapterLoadError(f"{source}: {len(state)} tensors, expected {args.expect_tensors}")
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
    config = ILoRAConfig(rank=ranks.pop(), alpha=args.alpha, num_experts=num_experts, dropout=args.dropout,
                         target_modules=targets, encoders=encoders)
    with atomic_directory(args.out) as tmp:
        if args.layout == "peft":
            from crabplus.adapters.peft_method import write_peft_ilora

            write_peft_ilora(tmp, native, config)
        else:
            write_ilora(tmp, native, config, paths)
    release = " (the release's count)" if len(state) == RELEASE_TENSOR_COUNT else ""
    print(f"{source}: {len(state)} tensors{release}, {len(paths)} modules, r={config.rank}, N={num_experts}, "
          f"alpha={config.alpha}")
    for line in lines:
        print(f"  {line}")
    print(f"wrote {args.out}")
    return 0


def _checkpoint_base(checkpoint: Path) -> str | None:
    """The base model folder of a training checkpoint, as an absolute path: the checkpoint itself when its base
    is included, else the base it names (PEFT's ``base_model_name_or_path``); None when it cannot be found."""
    from crabplus.model.build import META_FILE, CheckpointError, resolve_base
    from crabplus.utils.io import read_json_object

    try:
        meta = read_json_object(checkpoint / META_FILE, CheckpointError)
        folder = checkpoint if meta.get("base") == "included" else resolve_base(checkpoint, meta)
    except CheckpointError:
        return None
    return str(folder.resolve())


def convert_to_peft(args: argparse.Namespace) -> int:
    from safetensors.torch import load_file

    from crabplus.adapters import AdapterLoadError, ILoRAConfig
    from crabplus.adapters.io import ADAPTER_FILE, atomic_directory, read_adapter_config
    from crabplus.adapters.peft_method import write_peft_ilora
    from crabplus.config.core import ConfigError, from_dict

    source, base = args.source, args.base
    if (source / "adapter").is_dir():
        base = base or _checkpoint_base(source)
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
    with atomic_directory(args.out) as tmp:
        write_peft_ilora(tmp, state, config, base_model_name_or_path=base)
    print(f"{source}: {len(state)} tensors, r={config.rank}, N={config.num_experts}, alpha={config.alpha}"
          + (f", base {base}" if base else ", no base named (give --base DIR)"))
    print(f"wrote {args.out} (PEFT layout: adapter_model.safetensors + adapter_config.json)")
    return 0
