"""``crabplus data synth``: generate AVSynth, the embedded synthetic audio-visual world."""

from __future__ import annotations

import argparse
import sys
import time

#: Settings that also have a flag of their own, generated from the field (--per-dataset 4 is per_dataset=4).
SHORTCUTS = (
    "out",
    "per_dataset",
    "seed",
    "test_fraction",
    "image_size",
    "clip_seconds",
    "fps",
    "sample_rate",
    "datasets",
    "reasoning",
    "workers",
)


def register(data_sub) -> None:
    from crabplus.config.cli import add_config_arguments
    from crabplus.synth.config import PRESETS, SynthCommandConfig

    p = data_sub.add_parser(
        "synth",
        help="generate the AVSynth synthetic world",
        description="Render AVSynth: one mirror dataset per real one (all 19 task flags), as MP4 (H.264 + AAC) "
        "or PNG + WAV media, unified record files OUT/<dataset>/{train,test}.jsonl, OUT/manifest.json and "
        "OUT/resolved_config.yaml. Same seed and generator version give the same bytes. Settings: the --preset, "
        "then --config FILE, then the flags, then KEY=VALUE overrides; every flag sets the key of the same name. "
        "See docs/avsynth.md.",
    )
    p.add_argument(
        "--preset",
        default="demo",
        help=f"starting sizes: {', '.join(PRESETS)} (default demo); everything else refines it",
    )
    add_config_arguments(p, SynthCommandConfig, shortcuts=SHORTCUTS, example="per_dataset=4 datasets=[ks,ave]")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary table")
    p.set_defaults(func=run_synth)


def config_from_args(args: argparse.Namespace):
    """The SynthCommandConfig of a command line: the preset, then --config, the flags and the overrides."""
    from crabplus.config.cli import config_from_args as resolve
    from crabplus.synth.config import SynthCommandConfig, preset

    start = preset(args.preset)
    return resolve(SynthCommandConfig, args, defaults=SynthCommandConfig(**vars(start)))


def run_synth(args: argparse.Namespace) -> int:
    from crabplus.cli.main import UsageError
    from crabplus.config.core import write_resolved_config
    from crabplus.schema.registry import get_spec
    from crabplus.synth import SynthError, generate

    cfg = config_from_args(args)
    if cfg.out is None:
        raise UsageError("needs --out DIR (or out: in --config), the folder to write")
    start = time.perf_counter()
    try:
        manifest = generate(cfg.out, cfg.synth(), progress=not args.quiet)
    except SynthError as exc:
        print(f"crabplus data synth: error: {exc}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    write_resolved_config(cfg, cfg.out)
    if not args.quiet:
        print(f"{'dataset':<10} {'task':<13} {'train':>6} {'test':>6}")
        for name, counts in manifest.counts.items():
            print(f"{name:<10} {get_spec(name).task:<13} {counts.get('train', 0):>6} {counts.get('test', 0):>6}")
    print(
        f"AVSynth {manifest.version}: {manifest.total} records in {len(manifest.counts)} datasets, seed "
        f"{manifest.seed}, written to {cfg.out} in {seconds:.1f} s"
    )
    return 0
