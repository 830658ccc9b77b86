"""Training-loop throughput on AVSynth (CPU): seconds per step and how much of it waits for data.

    .venv/bin/python benchmarks/train_loop.py [--steps 10] [--rounds 3] [--data DIR] [--only ilora]

Side by side in one run: the base stage (on 5 % of the perception corpus) with no feature cache, with a warm
cache, with a warm cache and one DataLoader worker, and the I-LoRA stage with a warm cache, once with the
layer as it is and once with the plain autograd formula it had before issue 14 (``ILoRALinear.lean = False``):
the same numbers within float32 rounding, so any difference in s/step is the layer's. The machine is shared
and noisy, so the variants run interleaved for ``--rounds`` rounds and the table shows each one's best round
(and its median); compare rows, not absolute numbers. Writes benchmarks/results/train_loop.json
(train_loop_<only>.json with ``--only``).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("CRABPLUS_QUIET", "1")

#: The share of the shipped base's perception corpus the base-stage variants train on.
CORPUS_SCALE = 0.05
#: A pseudo-override: run the I-LoRA layer through its pre-issue-14 formula.
PLAIN = "ilora-formula=plain"


def run(data: Path, out: Path, steps: int, *overrides: str) -> dict:
    """One training run of ``steps`` steps on ``data`` (an AVSynth set or the perception corpus)."""
    from crabplus.adapters import ILoRALinear
    from crabplus.train import read_metrics, train
    from crabplus.train.run_config import load_config

    ILoRALinear.lean = PLAIN not in overrides
    overrides = tuple(o for o in overrides if o != PLAIN)

    cfg = load_config(
        None,
        [
            f"data.train=[{data}]",
            f"data.root={data}",
            "data.image_size=56",
            f"output_dir={out}",
            f"train.max_steps={steps}",
            f"train.save_steps={steps}",
            f"train.log_steps={steps}",
            "train.batch_size=4",
            *overrides,
        ],
    )
    t0 = time.perf_counter()
    result = train(cfg)
    wall = time.perf_counter() - t0
    row = read_metrics(out / "metrics.jsonl")[-1]
    return {
        "s_per_step": row["elapsed_s"] / steps,
        "data_wait_share": row["data_wait_s"] / row["elapsed_s"],
        "answer_tokens_per_step": row["tokens"] / steps,
        "wall_s": wall,
        "loss": result.losses[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", default=None, help="an AVSynth folder (default: generate the demo preset)")
    parser.add_argument("--only", default=None, help="run only the variants whose name contains this")
    args = parser.parse_args()
    from crabplus.synth import generate, preset

    work = Path(tempfile.mkdtemp(prefix="crabplus-bench-"))
    data = Path(args.data) if args.data else work / "avsynth"
    if args.data is None:
        t0 = time.perf_counter()
        generate(data, preset("demo"))
        print(f"AVSynth demo preset generated in {time.perf_counter() - t0:.1f} s")
    # the base stage trains on the perception corpus only (crabplus.train.data refuses the 19 datasets)
    from crabplus.experiments.base import corpus_clips
    from crabplus.synth.pretrain import generate_corpus

    corpus = work / "corpus"
    t0 = time.perf_counter()
    generate_corpus(corpus, preset("demo"), corpus_clips(CORPUS_SCALE))
    print(f"perception corpus ({CORPUS_SCALE:.0%} of the shipped base's) generated in {time.perf_counter() - t0:.1f} s")
    cache = work / "cache"
    base = ("train.stage=base", "model.adapter=none")
    ilora = ("model.adapter=ilora", "model.ilora.rank=8", "model.ilora.alpha=16")
    run(corpus, work / "warm-base", 2, *base, f"data.cache_dir={cache}")  # fills the cache
    run(data, work / "warm-ilora", 2, *ilora, f"data.cache_dir={cache}")
    variants = {  # name -> (data, overrides)
        "base, no cache": (corpus, base),
        "base, warm cache": (corpus, (*base, f"data.cache_dir={cache}")),
        "base, warm cache, 1 worker": (corpus, (*base, f"data.cache_dir={cache}", "train.num_workers=1")),
        "ilora, warm cache": (data, (*ilora, f"data.cache_dir={cache}")),
        "ilora, warm cache, before #14": (data, (*ilora, f"data.cache_dir={cache}", PLAIN)),
    }
    if args.only:
        variants = {k: v for k, v in variants.items() if args.only in k}
    trials: dict[str, list[dict]] = {name: [] for name in variants}
    for round_ in range(args.rounds):
        for i, (name, (source, overrides)) in enumerate(variants.items()):
            trials[name].append(run(source, work / f"r{round_}-{i}", args.steps, *overrides))
    rows = {}
    for name, runs in trials.items():
        best = min(runs, key=lambda r: r["s_per_step"])
        median = sorted(r["s_per_step"] for r in runs)[len(runs) // 2]
        rows[name] = {**best, "s_per_step_median": median, "rounds": runs}
    print(f"\n{'run':<31} {'s/step best':>12} {'median':>8} {'data wait':>10} {'answer tok/step':>16}")
    for name, r in rows.items():
        print(
            f"{name:<31} {r['s_per_step']:>12.3f} {r['s_per_step_median']:>8.3f} {r['data_wait_share']:>9.0%} "
            f"{r['answer_tokens_per_step']:>16.0f}"
        )
    result = {
        "command": "python benchmarks/train_loop.py "
        + " ".join(f"--{k} {v}" for k, v in vars(args).items() if v is not None),
        "steps": args.steps,
        "rounds": args.rounds,
        "batch_size": 4,
        "cpu_count": os.cpu_count(),
        "runs": rows,
    }
    name = f"train_loop_{args.only.replace(' ', '_')}.json" if args.only else "train_loop.json"
    path = Path(__file__).resolve().parent / "results" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
