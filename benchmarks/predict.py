"""Prediction throughput: records/s and generated tokens/s of `crabplus predict` over records, at batch 1, 4 and
8 in one process and with 2 processes under torchrun, side by side in one run.

    .venv/bin/python benchmarks/predict.py                                    # CPU, tiny untrained checkpoint
    python benchmarks/predict.py --preset omni-7b --device cuda              # the 7B's shapes, random weights, 1 GPU
    python benchmarks/predict.py --checkpoint runs/omni7b/final --device cuda --procs 8   # a real model, 8 GPUs

Inputs: an AVSynth set of four tasks (``--records`` clips, generated into a temporary folder; ``--data FILE``
reads a record file instead) and, on the CPU, the tests' tiny checkpoint with random I-LoRA weights
(tests/helpers/predict.py; ``--checkpoint`` for a trained one; ``--preset omni-7b``: the 7B thinker's shapes with
random weights and the release's I-LoRA (r=128, N=3), built in memory, in bf16 on a GPU, no checkpoint and no
process runs, as benchmarks/generate.py builds it). The batch sizes run in process on one loaded
model, through ``predict_many`` (the command's own code: bucketing, per-batch writes, the merge). The process
counts run the command under torchrun, at batch ``--proc-batch``, with 1 process as their own baseline; their
time is the command's own ``seconds`` (answering and merging, model loading left out). Each run writes a fresh
file; the variants run interleaved ``--rounds`` times and the best time of each is reported (all are kept).
Generated tokens are the answers re-tokenized (an untrained model mostly writes ``--new-tokens``).
Where time goes: ``encode_s`` is the media decoding and features (per record, on the CPU), the rest is the model.
On the CPU every batch is decoded with at least ``CPU_MIN_ROWS`` rows (``crabplus.infer.batching``: the price of
answers that do not depend on the batch), so batch 1 also runs as one row (``batch_1_one_row``), the speed a
batch-dependent decoder would have. ``rows_with_the_first_runs_text``: the share of answers equal to the first
run's (1.0 on the CPU; on a GPU in bf16, how close batching stays).
Writes benchmarks/results/predict_<device>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from thinker_bench import RESULTS, device_name, write_report

from crabplus.infer import batching
from crabplus.infer.many import iter_items, predict_many
from crabplus.infer.predictor import Predictor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test helpers: tests/helpers/
from helpers.predict import save_tiny_checkpoint  # noqa: E402

DATASETS = ["cremad", "ks", "ave", "s4"]


def make_records(folder: Path, count: int) -> Path:
    """An AVSynth set of DATASETS with about ``count`` records in all (train and test splits), one record file."""
    from crabplus.synth import SynthConfig, generate

    per = max(2, -(-count // len(DATASETS)))
    generate(folder, SynthConfig(per_dataset=per, image_size=56, datasets=DATASETS, test_fraction=0.5), progress=False)
    lines = [
        line
        for name in DATASETS
        for split in ("train", "test")
        for line in (folder / name / f"{split}.jsonl").read_text().splitlines()
        if line.strip()
    ]
    path = folder / "records.jsonl"
    path.write_text("\n".join(lines[:count]) + "\n")
    return path


def generated_tokens(tokenizer, output: Path) -> int:
    rows = [json.loads(line) for line in output.read_text().splitlines() if line.strip()]
    return sum(len(tokenizer(r["predict"], add_special_tokens=False).input_ids) for r in rows)


def random_predictor(preset: str, device: torch.device) -> Predictor:
    """The preset's thinker with random weights and the release's I-LoRA, as a Predictor (224-pixel frames)."""
    from thinker_bench import add_adapter, build

    from crabplus.adapters import ILoRAConfig
    from crabplus.model.config import ModelConfig

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model, tokenizer = build(preset, device, dtype)
    add_adapter(model, "ilora", 128, 3, 0.0, True)
    cfg = ModelConfig(
        preset=preset, adapter="ilora", ilora=ILoRAConfig(rank=128, alpha=256, num_experts=3, encoders=True)
    )
    return Predictor.from_model(model, tokenizer, cfg, image_size=224)


def summarize(name: str, seconds: list[float], records: int, tokens: int, extra: dict) -> dict:
    best = min(seconds)
    print(
        f"{name}: {records} records, best of {len(seconds)} {best:.2f} s ({records / best:.2f} records/s, "
        f"{tokens / best:.1f} tokens/s)",
        flush=True,
    )
    return {
        "records": records,
        "seconds_best": round(best, 3),
        "seconds_all": [round(x, 3) for x in seconds],
        "records_per_s": round(records / best, 3),
        "tokens": tokens,
        "tokens_per_s": round(tokens / best, 2),
        **extra,
    }


def run_batches(
    predictor: Predictor,
    records: Path,
    root: Path,
    work: Path,
    batches: list[int],
    new_tokens: int,
    device: torch.device,
    rounds: int,
) -> dict:
    items = list(iter_items([records], task=None, root=str(root), record_args={}))
    encode = predictor.processor.encode
    spent = {"encode": 0.0}

    def timed_encode(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return encode(*args, **kwargs)
        finally:
            spent["encode"] += time.perf_counter() - t0

    predictor.processor.encode = timed_encode
    compiled = next(predictor.model.parameters()).device.type == "cuda"
    predict_many(iter(items[:2]), predictor, work / "warm.jsonl", max_new_tokens=4, progress=False)  # warm-up
    runs = [(f"batch_{b}", b, batching.CPU_MIN_ROWS) for b in batches]
    if device.type == "cpu" and 1 in batches:  # batch 1 as one row: what the CPU floor costs
        runs.insert(batches.index(1) + 1, ("batch_1_one_row", 1, 1))
    seconds: dict[str, list[float]] = {name: [] for name, *_ in runs}
    encode_s: dict[str, list[float]] = {name: [] for name, *_ in runs}
    texts: dict[str, list[str]] = {}
    tokens: dict[str, int] = {}
    for _ in range(rounds):  # the variants interleaved, so that a busy spell of the machine hits them all
        for name, batch, min_rows in runs:
            output = work / f"{name}.jsonl"
            output.unlink(missing_ok=True)
            spent["encode"] = 0.0
            floor, batching.CPU_MIN_ROWS = batching.CPU_MIN_ROWS, min_rows
            try:
                summary = predict_many(
                    iter(items),
                    predictor,
                    output,
                    max_new_tokens=new_tokens,
                    progress=False,
                    batch_size=batch,
                    compiled=compiled,
                )
            finally:
                batching.CPU_MIN_ROWS = floor
            seconds[name].append(summary.seconds)
            encode_s[name].append(spent["encode"])
            texts[name] = [json.loads(line)["predict"] for line in output.read_text().splitlines()]
            tokens[name] = generated_tokens(predictor.tokenizer, output)
    out = {}
    first = runs[0][0]
    for name, *_ in runs:
        same = sum(a == b for a, b in zip(texts[name], texts[first])) / max(len(texts[name]), 1)
        out[name] = summarize(
            name,
            seconds[name],
            len(texts[name]),
            tokens[name],
            {
                "encode_s_best_run": round(encode_s[name][seconds[name].index(min(seconds[name]))], 3),
                "rows_with_the_first_runs_text": round(same, 3),
            },
        )
    for name, *_ in runs:
        out[name][f"speedup_vs_{first}"] = round(out[name]["records_per_s"] / out[first]["records_per_s"], 2)
    return out


def run_procs(
    checkpoint: Path,
    records: Path,
    root: Path,
    work: Path,
    procs: list[int],
    batch: int,
    new_tokens: int,
    tokenizer,
    rounds: int,
) -> dict:
    torchrun = Path(sys.executable).with_name("torchrun")
    seconds: dict[int, list[float]] = {n: [] for n in procs}
    written: dict[int, int] = {}
    for _ in range(rounds):
        for n in procs:
            output = work / f"procs{n}.jsonl"
            output.unlink(missing_ok=True)
            cmd = [
                str(torchrun) if torchrun.is_file() else "torchrun",
                "--standalone",
                f"--nproc_per_node={n}",
                "-m",
                "crabplus",
                "predict",
                str(records),
                "--root",
                str(root),
                "--checkpoint",
                str(checkpoint),
                "--output",
                str(output),
                "--max-new-tokens",
                str(new_tokens),
                "--batch-size",
                str(batch),
                "--json",
            ]
            env = {**os.environ, "CRABPLUS_QUIET": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SystemExit(f"torchrun with {n} processes failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
            summary = json.loads(done.stdout.strip().splitlines()[-1])
            seconds[n].append(summary["seconds"])
            written[n] = summary["written"]
    out = {
        f"procs_{n}": summarize(
            f"{n} process(es), batch {batch}",
            seconds[n],
            written[n],
            generated_tokens(tokenizer, work / f"procs{n}.jsonl"),
            {},
        )
        for n in procs
    }
    base = out[f"procs_{procs[0]}"]["records_per_s"]
    for n in procs:
        out[f"procs_{n}"][f"speedup_vs_procs_{procs[0]}"] = round(out[f"procs_{n}"]["records_per_s"] / base, 2)
    out["same_file"] = len({(work / f"procs{n}.jsonl").read_bytes() for n in procs}) == 1
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="a trained model folder (default: the tests' tiny checkpoint)")
    parser.add_argument(
        "--preset", help="instead of a checkpoint: this preset's shapes with random weights (omni-7b), in process only"
    )
    parser.add_argument("--data", help="a record file (default: an AVSynth set of --records clips)")
    parser.add_argument("--root", help="the data root of --data (default: its folder)")
    parser.add_argument("--records", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions; the best is reported")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--procs", type=int, default=2, help="torchrun processes to compare with 1 (0: none)")
    parser.add_argument("--proc-batch", type=int, default=1, help="the batch size of the torchrun runs")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: the checkpoint's own default)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per process")
    parser.add_argument("--note", default="", help="a word about the machine (busy, idle) for the JSON")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    work = Path(tempfile.mkdtemp(prefix="crabplus-bench-predict-"))
    try:
        checkpoint = (
            Path(args.checkpoint) if args.checkpoint else None if args.preset else save_tiny_checkpoint(work / "model")
        )
        if args.data:
            records = Path(args.data)
            root = Path(args.root) if args.root else records.parent
        else:
            root = work / "avsynth"
            records = make_records(root, args.records)
        real = args.checkpoint or args.preset
        device = torch.device(args.device or ("cuda" if real and torch.cuda.is_available() else "cpu"))
        report = {
            "what": "prediction throughput (benchmarks/predict.py)",
            "command": " ".join(["python", "benchmarks/predict.py", *(argv or sys.argv[1:])]),
            "device": device_name(device),
            "torch": torch.__version__,
            "threads": args.threads,
            "checkpoint": args.checkpoint
            or (f"{args.preset}, random weights" if args.preset else "tiny (tests/helpers/predict.py, untrained)"),
            "new_tokens": args.new_tokens,
            "note": args.note or ("CPU run: compare ratios only" if device.type == "cpu" else ""),
        }
        predictor = (
            random_predictor(args.preset, device)
            if args.preset
            else Predictor.from_checkpoint(checkpoint, device=str(device))
        )
        report["batches"] = run_batches(
            predictor, records, root, work, args.batches, args.new_tokens, device, args.rounds
        )
        del predictor
        if args.procs > 1 and not args.preset:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(checkpoint, local_files_only=True)
            report["processes"] = run_procs(
                checkpoint,
                records,
                root,
                work,
                [1, args.procs],
                args.proc_batch,
                args.new_tokens,
                tokenizer,
                args.rounds,
            )
        name = f"predict_{args.preset}_{device.type}" if args.preset else f"predict_{device.type}"
        write_report(args.out or RESULTS / f"{name}.json", report)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
