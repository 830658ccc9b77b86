"""Media pipeline throughput: clips/s for decode + features of a 10 s clip (10 frames at 224 px), with and
without the on-disk cache.

    .venv/bin/python benchmarks/media.py                     # 8 clips of 320x240 @ 25 fps, 3 rounds
    .venv/bin/python benchmarks/media.py --width 640 --height 360 --clips 4

Rows (the rounds interleaved so that the shared machine's noise hits all rows alike):

- ``decode+features``: ``read_frames`` (10 frames, 224 px) + ``read_audio`` + the "tenths" window + Whisper
  log-mel: the media work of one sample, in one process;
- ``encode, no cache``: the same plus the vision patches, chat rendering and tokenisation (``CrabProcessor``);
- ``encode, cache cold``: first encode of each clip with a cache (decode + writing the entries);
- ``encode, cache warm``: every later encode (reading the entries);
- ``loader x2, ...``: ``RecordDataset`` behind a ``DataLoader`` with 2 worker processes, as training reads
  data on a 2-core machine.

Single-process rows run torch with one thread, as DataLoader workers do (torch sets it in each worker).

Prints a table and writes ``benchmarks/results/media.json``. The goal of the issue is >= 10 clips/s on 2
cores without cache.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from crabplus.data.audio_features import whisper_log_mel
from crabplus.data.dataset import RecordDataset
from crabplus.data.media import read_audio, read_frames
from crabplus.data.processor import CrabProcessor
from crabplus.data.tokenizer import build_tiny_tokenizer
from crabplus.data.windows import apply_window
from crabplus.model.presets import build_thinker_config, preset_dims
from crabplus.schema.records import record_from_json
from crabplus.schema.registry import DATASETS
from crabplus.schema.tokens import special_token_ids

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test helpers: tests/helpers/
from helpers.media import write_clip  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "media.json"


def _record(i: int, name: str):
    return record_from_json(
        {
            "id": f"ks-{i}",
            "dataset": "ks",
            "task": "action",
            "split": "test",
            "media": {"video": name},
            "instruction": DATASETS["ks"].instruction,
            "answer": {"label": "x"},
            "target": "<answer>x</answer>",
        }
    )


def _cpu() -> float:
    """CPU seconds of this process (all its threads) and of its finished children (data-loader workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _measure(fn, items) -> tuple[float, float]:
    """(clips per wall-clock second, CPU milliseconds per clip) of ``fn`` over ``items``."""
    wall, cpu = time.perf_counter(), _cpu()
    n = fn(items)
    return n / (time.perf_counter() - wall), 1000 * (_cpu() - cpu) / n


def _each(fn):
    def run(items) -> int:
        for item in items:
            fn(item)
        return len(items)

    return run


def _loader(processor, root: Path, workers: int):
    """Clips through a DataLoader; the records are repeated 3 times to amortise starting the workers."""

    def run(records) -> int:
        loader = DataLoader(
            RecordDataset(records * 3, processor, root),
            batch_size=1,
            num_workers=workers,
            collate_fn=lambda samples: samples,
        )
        return sum(len(batch) for batch in loader)

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    threads = torch.get_num_threads()

    tok = build_tiny_tokenizer()
    config = build_thinker_config(preset_dims("tiny"), len(tok), special_token_ids(tok))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        names = []
        for i in range(args.clips):
            write_clip(
                root / f"clip{i}.mp4",
                seconds=args.seconds,
                fps=args.fps,
                width=args.width,
                height=args.height,
                freq=300.0 + 50 * i,
                textured=True,
            )
            names.append(f"clip{i}.mp4")
        records = [_record(i, n) for i, n in enumerate(names)]
        paths = [root / n for n in names]

        def decode_features(path: Path) -> None:
            read_frames(path, args.frames, args.size)
            whisper_log_mel(apply_window(read_audio(path), "tenths"))

        plain = CrabProcessor(tok, config, image_size=args.size)
        encode = lambda proc: _each(lambda rec: proc.encode(rec, root, with_target=True))  # noqa: E731
        loaders = f"loader x{args.workers}"
        rows: dict[str, list[tuple[float, float]]] = {
            k: []
            for k in (
                "decode+features",
                "encode, no cache",
                "encode, cache cold",
                "encode, cache warm",
                f"{loaders}, no cache",
                f"{loaders}, cache warm",
            )
        }
        decode_features(paths[0])  # warm-up: imports, codec initialisation
        for r in range(args.rounds):
            torch.set_num_threads(1)
            cached = CrabProcessor(tok, config, image_size=args.size, cache_dir=root / f"cache{r}")
            rows["decode+features"].append(_measure(_each(decode_features), paths))
            rows["encode, no cache"].append(_measure(encode(plain), records))
            rows["encode, cache cold"].append(_measure(encode(cached), records))
            rows["encode, cache warm"].append(_measure(encode(cached), records))
            torch.set_num_threads(threads)
            rows[f"{loaders}, no cache"].append(_measure(_loader(plain, root, args.workers), records))
            rows[f"{loaders}, cache warm"].append(_measure(_loader(cached, root, args.workers), records))

    summary = {
        name: {
            "clips_per_s_median": statistics.median(r[0] for r in v),
            "cpu_ms_per_clip_median": statistics.median(r[1] for r in v),
            "clips_per_s_rounds": [r[0] for r in v],
            "cpu_ms_per_clip_rounds": [r[1] for r in v],
        }
        for name, v in rows.items()
    }
    print(
        f"media pipeline: {args.seconds:g} s clips {args.width}x{args.height} @ {args.fps} fps (H.264 + AAC), "
        f"{args.frames} frames at {args.size} px; {args.clips} clips x {args.rounds} rounds; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"{'row':<26}{'clips/s':>9}{'CPU ms/clip':>13}{'2-core capacity':>17}   clips/s by round")
    for name, s in summary.items():
        rounds = " ".join(f"{v:.1f}" for v in s["clips_per_s_rounds"])
        capacity = 2000 / s["cpu_ms_per_clip_median"]
        print(
            f"{name:<26}{s['clips_per_s_median']:>9.1f}{s['cpu_ms_per_clip_median']:>13.1f}{capacity:>17.1f}   {rounds}"
        )
    print(
        "clips/s: median over rounds, wall clock (shared machine: noisy); 2-core capacity: 2 / CPU s per clip,"
        " the rate two idle cores would sustain"
    )
    result = {
        "benchmark": "media",
        "args": {k: v for k, v in vars(args).items() if k != "out"},
        "rows": summary,
        "cpu_count": os.cpu_count(),
        "torch_threads_main": threads,
        "load_average": os.getloadavg(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "goal": ">= 10 clips/s without cache on 2 cores",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
