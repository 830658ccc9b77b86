"""What a base's towers hold, token by token: the stage-0 heads trained on the FROZEN towers (a linear readout),
for one or more checkpoints side by side, on the same clips, split and schedule.

    .venv/bin/python benchmarks/tower_readout.py [--checkpoint DIR ...] [--corpus DIR] [--steps 3000]
        [--out benchmarks/results/tower_readout.json] [--work DIR] [--quick]

The greedy answers of ``benchmarks/perception.py`` say what the LLM makes of the towers; this says what the
towers give it. The clips are a perception corpus (``--corpus``: one already rendered, e.g. a base run's
``OUT/corpus``; else seed 0's, the shipped base's own, rendered into ``--work``), split as stage 0 splits them
(``encoders.val_fraction`` per layout, the same seed): the held-out clips were held out from the towers' own
stage 0 too when the towers were trained on this corpus. Every target of
``crabplus.synth.encoder_targets`` is read, the optional ones included. A token target's accuracy counts the
"none" class, which most tokens hold; the table also gives it over the tokens that hold an object (chance: one
over the classes), which is what an answer about that object needs.

One CPU thread. Writes the JSON atomically with the command and each checkpoint's sha256.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("CRABPLUS_QUIET", "1")

#: token targets whose class 0 is "no object in this token"
OCCUPIED = ("token_colour", "token_shape", "token_ninth", "token_motion")
QUICK_CLIPS = {"pt_still": 16, "pt_scene": 12, "pt_face": 12}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--checkpoint", action="append", help="a base folder (repeat to compare; default: the shipped base)")
    p.add_argument("--corpus", help="a rendered perception corpus (default: seed 0's, rendered into --work)")
    p.add_argument("--steps", type=int, default=3000, help="head training steps (stage 0's: 3000)")
    p.add_argument("--out", default="benchmarks/results/tower_readout.json")
    p.add_argument("--work", help="where to render the corpus and cache media (default: a temporary folder)")
    p.add_argument("--quick", action="store_true", help="a toy-sized run for tests")
    return p


def occupied_accuracy(reader, heads, val: dict[str, list]) -> dict[str, tuple[int, int]]:
    """Per token target, (right, counted) over the held-out tokens that hold an object."""
    import torch

    from crabplus.train.encoders import level_inputs

    tally: dict[str, list[int]] = {}
    with torch.no_grad():
        for group in val.values():
            for sample in group:
                vision = reader.vision([sample])[0]  # [tokens, width]
                for name in OCCUPIED:
                    if name not in sample.targets or name not in heads.heads:
                        continue
                    level = heads.targets[name][1]
                    x, target = level_inputs(vision, np.asarray(sample.targets[name]), level, sample.seconds)
                    keep = target.reshape(-1) > 0
                    pred = heads.heads[name](x).argmax(-1).numpy()
                    acc = tally.setdefault(name, [0, 0])
                    acc[0] += int((pred[keep] == target.reshape(-1)[keep]).sum())
                    acc[1] += int(keep.sum())
    return {k: (r, n) for k, (r, n) in tally.items()}


def read_towers(thinker, samples, steps: int, batch_size: int, val_fraction: float) -> dict:
    """The readout of a loaded model's frozen towers on ``samples``."""
    import torch

    from crabplus.experiments.encoders import stage_targets
    from crabplus.synth.encoder_targets import OPTIONAL_TARGETS
    from crabplus.train.encoders import EncoderStageConfig, split_layouts, tower_reader, train_towers

    thinker.requires_grad_(False)
    cfg = EncoderStageConfig(
        steps=steps, batch_size=batch_size, val_fraction=val_fraction, extra_targets=list(OPTIONAL_TARGETS)
    )
    targets = stage_targets(cfg)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    result = train_towers(thinker, samples, targets, cfg, seed=0, frozen=True)
    _, val = split_layouts(samples, cfg.val_fraction, random.Random(0))  # the split train_towers made
    occupied = occupied_accuracy(tower_reader(thinker), result.heads, val)
    return {
        "validation": result.validation,
        "occupied": {k: round(r / n, 4) for k, (r, n) in occupied.items() if n},
        "occupied_tokens": {k: n for k, (_, n) in occupied.items()},
        "occupied_chance": {k: round(1 / (targets[k][3] - 1), 4) for k in occupied},
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main(argv: list[str] | None = None) -> int:
    import torch

    from crabplus.data.processor import CrabProcessor
    from crabplus.experiments.base import SHIPPED_BASE
    from crabplus.experiments.encoders import clip_records, tower_samples
    from crabplus.model import load_checkpoint
    from crabplus.synth.config import SynthConfig
    from crabplus.synth.pretrain import generate_corpus
    from crabplus.utils import stamps
    from crabplus.utils.io import atomic_write_json

    args = build_parser().parse_args(argv)
    checkpoints = [Path(c) for c in (args.checkpoint or [str(SHIPPED_BASE)])]
    for c in checkpoints:
        if not (c / "model.safetensors").is_file():
            print(f"--checkpoint {c}: no model.safetensors (give a base folder)", file=sys.stderr)
            return 2
    if args.steps < 1:
        print(f"--steps must be >= 1, got {args.steps}", file=sys.stderr)
        return 2
    if args.corpus and not (Path(args.corpus) / "corpus.json").is_file():
        print(f"--corpus {args.corpus}: no corpus.json (give a rendered perception corpus)", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="crabplus-readout-"))
    corpus = Path(args.corpus) if args.corpus else work / "corpus"
    if not args.corpus:
        clips = QUICK_CLIPS if args.quick else None
        generate_corpus(corpus, SynthConfig(per_dataset=100, seed=0, workers=0, image_size=56), clips)
    first, tokenizer, _ = load_checkpoint(checkpoints[0])
    processor = CrabProcessor(tokenizer, first.config, image_size=56, cache_dir=str(work / "cache"))
    samples = tower_samples(clip_records(corpus), corpus, processor)
    # stage 0's split and batch; a toy run holds out a quarter so that every layout has held-out pairs
    steps, batch_size, val_fraction = (min(args.steps, 6), 4, 0.25) if args.quick else (args.steps, 24, 0.1)
    out = {
        "command": " ".join(["python benchmarks/tower_readout.py", *(sys.argv[1:] if argv is None else argv)]),
        "corpus": str(corpus) if args.corpus else "seed 0, rendered (the shipped base's stage-0 corpus)",
        "clips": len(samples),
        "steps": steps,
        "batch_size": batch_size,
        "val_fraction": val_fraction,
        "models": {},
    }
    for i, c in enumerate(checkpoints):
        print(f"[readout] {c}", file=sys.stderr)
        model = first if i == 0 else load_checkpoint(c)[0]  # the first is loaded already, for its processor
        out["models"][str(c)] = {"sha256": stamps.file_digest(c / "model.safetensors")} | read_towers(
            model, samples, steps, batch_size, val_fraction
        )
    atomic_write_json(Path(args.out), out)
    print(table(out))
    return 0


def table(out: dict) -> str:
    names = list(out["models"])
    lines = [
        "| token target, over tokens holding an object | chance | " + " | ".join(names) + " |",
        "|---|---:|" + "---:|" * len(names),
    ]
    first = out["models"][names[0]]
    for k in first["occupied"]:
        cells = " | ".join(f"{out['models'][n]['occupied'].get(k, float('nan')):.3f}" for n in names)
        lines.append(f"| {k} ({first['occupied_tokens'][k]} tokens) | {first['occupied_chance'][k]:.3f} | {cells} |")
    for k in first["validation"]:
        cells = " | ".join(f"{out['models'][n]['validation'].get(k, float('nan')):.3f}" for n in names)
        lines.append(f"| {k} (all held-out) | | {cells} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
