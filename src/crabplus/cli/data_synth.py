"""``crabplus data synth``: generate AVSynth, the embedded synthetic audio-visual world."""

from __future__ import annotations

import argparse
import sys
import time

from crabplus.config.core import ConfigError


def register(data_sub) -> None:
    p = data_sub.add_parser(
        "synth", help="generate the AVSynth synthetic world",
        description="Render AVSynth: one mirror dataset per real one (all 19 task flags), as MP4 (H.264 + AAC) "
        "or PNG + WAV media, unified record files OUT/<dataset>/{train,test}.jsonl and OUT/manifest.json. "
        "Same seed and generator version give the same bytes. See docs/avsynth.md.")
    p.add_argument("--out", required=True, help="output folder (the data root); new, empty, or a previous AVSynth "
                   "folder (which is replaced)")
    p.add_argument("--preset", default="demo", help="starting sizes: tiny, demo (default) or full")
    p.add_argument("--per-dataset", type=int, default=None, help="clips per dataset, train + test")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    p.add_argument("--test-fraction", "--split-ratio", dest="test_fraction", type=float, default=None,
                   help="fraction of each dataset's clips in the test split (default 0.25)")
    p.add_argument("--image-size", type=int, default=None, help="frame side in pixels (even; default 56)")
    p.add_argument("--clip-seconds", type=int, default=None, help="length of video clips (default 10)")
    p.add_argument("--fps", type=int, default=None, help="video frame rate (default 2)")
    p.add_argument("--sample-rate", type=int, default=None, help="audio sample rate in Hz (default 16000)")
    p.add_argument("--datasets", default=None, help="comma-separated datasets to generate (default: all 19)")
    p.add_argument("--reasoning", choices=("none", "short", "full"), default=None,
                   help="reasoning chain written before each answer (default short)")
    p.add_argument("--workers", type=int, default=None, help="processes (0 = one per core; same bytes either way)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary table")
    p.set_defaults(func=run_synth)


def config_from_args(args: argparse.Namespace):
    """The SynthConfig of a command line: the preset, then every option that was given."""
    from dataclasses import replace

    from crabplus.synth.config import preset

    cfg = preset(args.preset)
    given = {name: getattr(args, name) for name in ("per_dataset", "seed", "test_fraction", "image_size",
                                                    "clip_seconds", "fps", "sample_rate", "reasoning", "workers")
             if getattr(args, name) is not None}
    if args.datasets is not None:
        given["datasets"] = [d.strip() for d in args.datasets.split(",") if d.strip()]
    try:
        return replace(cfg, **given)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from exc


def run_synth(args: argparse.Namespace) -> int:
    from crabplus.schema.registry import get_spec
    from crabplus.synth import SynthError, generate

    cfg = config_from_args(args)
    start = time.perf_counter()
    try:
        manifest = generate(args.out, cfg, progress=not args.quiet)
    except SynthError as exc:
        print(f"crabplus data synth: error: {exc}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    if not args.quiet:
        print(f"{'dataset':<10} {'task':<13} {'train':>6} {'test':>6}")
        for name, counts in manifest.counts.items():
            print(f"{name:<10} {get_spec(name).task:<13} {counts.get('train', 0):>6} {counts.get('test', 0):>6}")
    print(f"AVSynth {manifest.version}: {manifest.total} records in {len(manifest.counts)} datasets, seed "
          f"{manifest.seed}, written to {args.out} in {seconds:.1f} s")
    return 0
