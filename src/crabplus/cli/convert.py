"""``crabplus convert``: convert checkpoints (e.g. the release's finetune_weights.bin to safetensors).

    crabplus convert official-ilora finetune_weights.bin OUT/ [--alpha 256] [--dropout 0.1] [--expect-tensors 1940]
                                                               [--layout crabplus|peft]
    crabplus convert peft-ilora ADAPTER_OR_CHECKPOINT OUT/    # our I-LoRA adapter -> PEFT's layout

The work is :mod:`crabplus.adapters.convert`'s; this module reads the settings and prints the summary. It
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
from pathlib import Path


def register(sub) -> None:
    from crabplus.adapters.config import OfficialConvertConfig, PeftConvertConfig
    from crabplus.config.cli import add_config_arguments

    parser = sub.add_parser(
        "convert",
        help="convert checkpoints (e.g. the release's finetune_weights.bin to safetensors)",
        description="Convert checkpoints. `official-ilora`: the official Crab+ adapter "
        "(finetune_weights.bin) to a safetensors adapter directory.",
    )
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    official = kinds.add_parser(
        "official-ilora",
        help="the release's finetune_weights.bin -> adapter directory",
        description="Read the release's torch pickle with weights_only=True, check its "
        "keys, shapes and layers, and write an adapter directory "
        "(adapter.safetensors + adapter_config.json). Settings: --config FILE, "
        "then the flags, then KEY=VALUE overrides.",
    )
    official.add_argument(
        "paths",
        nargs="*",
        metavar="SOURCE OUT",
        help="the release's file and the adapter directory to write (keys source, out)",
    )
    add_config_arguments(
        official,
        OfficialConvertConfig,
        shortcuts=("alpha", "dropout", "expect_tensors", "layout"),
        positional_overrides=False,
    )
    official.set_defaults(func=convert_official)
    peft = kinds.add_parser(
        "peft-ilora",
        help="our I-LoRA adapter (or a checkpoint folder) -> PEFT's layout",
        description="Rewrite an I-LoRA adapter directory (adapter.safetensors + "
        "adapter_config.json), or a trained checkpoint folder's adapter/, as a PEFT "
        "adapter directory that PeftModel.from_pretrained loads once "
        "crabplus.adapters.peft_method is imported. Same tensors, renamed keys.",
    )
    peft.add_argument(
        "paths",
        nargs="*",
        metavar="SOURCE OUT",
        help="an I-LoRA adapter directory or a checkpoint folder with adapter/, and the PEFT adapter "
        "directory to write (keys source, out)",
    )
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


def convert_official(args: argparse.Namespace) -> int:
    from crabplus.adapters.config import OfficialConvertConfig
    from crabplus.adapters.convert import convert_official_file
    from crabplus.adapters.official import RELEASE_TENSOR_COUNT

    cfg = _settings(OfficialConvertConfig, args)
    done = convert_official_file(cfg)
    release = " (the release's count)" if done.tensors == RELEASE_TENSOR_COUNT else ""
    print(
        f"{done.source}: {done.tensors} tensors{release}, {done.modules} modules, r={done.config.rank}, "
        f"N={done.config.num_experts}, alpha={done.config.alpha}"
    )
    for line in done.parts:
        print(f"  {line}")
    print(f"wrote {cfg.out}")
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
    from crabplus.adapters.config import PeftConvertConfig
    from crabplus.adapters.convert import convert_to_peft as convert

    cfg = _settings(PeftConvertConfig, args)
    if cfg.base is None and (Path(cfg.source) / "adapter").is_dir():
        cfg.base = _checkpoint_base(Path(cfg.source))  # a checkpoint folder: record the base it trained on
    done = convert(cfg)
    print(
        f"{done.source}: {done.tensors} tensors, r={done.config.rank}, N={done.config.num_experts}, "
        f"alpha={done.config.alpha}" + (f", base {cfg.base}" if cfg.base else ", no base named (give --base DIR)")
    )
    print(f"wrote {cfg.out} (PEFT layout: adapter_model.safetensors + adapter_config.json)")
    return 0
