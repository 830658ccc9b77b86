"""AVSynth generation speed: clips per second per dataset and for the whole demo set.

    .venv/bin/python benchmarks/avsynth.py [--per-dataset 24] [--workers 2] [--out /tmp/avsynth-bench]

Prints a table and writes benchmarks/results/avsynth.json. Wall time on a shared machine is noisy, so
the CPU seconds (this process and its workers) are reported beside it; "clips" counts records (an
a2v record renders two videos and a WAV, an image-task record a PNG frame, a WAV and a mask).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from crabplus.schema.registry import get_spec
from crabplus.synth import GENERATOR_VERSION, SynthConfig, generate
from crabplus.synth.datasets import mirrored_datasets


def cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(out: Path, cfg: SynthConfig) -> tuple[float, float, int]:
    """(wall s, CPU s, records) of one generation into a fresh ``out``."""
    shutil.rmtree(out, ignore_errors=True)
    wall, cpu = time.perf_counter(), cpu_seconds()
    manifest = generate(out, cfg, progress=False)
    return time.perf_counter() - wall, cpu_seconds() - cpu, manifest.total


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-dataset", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "avsynth.json"))
    args = parser.parse_args(argv)
    scratch = Path(args.out or tempfile.mkdtemp(prefix="avsynth-bench-"))
    rows = []
    print(f"{'dataset':<10} {'task':<13} {'clips':>5} {'wall s':>7} {'cpu s':>7} {'clips/s':>8} {'MB':>6}")
    for name in mirrored_datasets():
        cfg = SynthConfig(per_dataset=args.per_dataset, datasets=[name], workers=1)
        wall, cpu, n = timed(scratch / name, cfg)
        mb = folder_mb(scratch / name)
        rows.append(
            {
                "dataset": name,
                "task": get_spec(name).task,
                "clips": n,
                "wall_s": round(wall, 3),
                "cpu_s": round(cpu, 3),
                "clips_per_s": round(n / wall, 2),
                "mb": round(mb, 2),
            }
        )
        print(f"{name:<10} {rows[-1]['task']:<13} {n:>5} {wall:>7.2f} {cpu:>7.2f} {n / wall:>8.1f} {mb:>6.1f}")
        shutil.rmtree(scratch / name)
    totals = {}
    for workers in (1, args.workers):
        cfg = SynthConfig(per_dataset=args.per_dataset, workers=workers)
        wall, cpu, n = timed(scratch / "all", cfg)
        totals[f"workers_{workers}"] = {
            "clips": n,
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "clips_per_s": round(n / wall, 2),
            "mb": round(folder_mb(scratch / "all"), 1),
        }
        print(
            f"all 19 datasets x {args.per_dataset}, {workers} worker(s): {n} clips in {wall:.1f} s wall "
            f"({cpu:.1f} s CPU), {n / wall:.1f} clips/s, {totals[f'workers_{workers}']['mb']} MB"
        )
    if args.out is None:
        shutil.rmtree(scratch, ignore_errors=True)
    result = {
        "benchmark": "avsynth",
        "generator_version": GENERATOR_VERSION,
        "per_dataset": args.per_dataset,
        "image_size": SynthConfig().image_size,
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": sys.version.split()[0],
        "datasets": rows,
        "totals": totals,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
