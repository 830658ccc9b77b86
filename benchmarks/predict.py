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
On the CPU a batch is decoded with at least ``crabplus.infer.batching.cpu_min_rows()`` rows (``min_rows`` in the
JSON): 1 where MKL's strict mode makes products row-invariant (an Intel CPU; the script asks for it, as
``crabplus predict`` does), else the row count from which they are (then batch 1 also runs as one row,
``batch_1_one_row``, the speed a batch-dependent decoder would have). ``rows_with_the_first_runs_text``: the
share of answers equal to the first run's (1.0 on the CPU; on a GPU in bf16, how close batching stays);
``rows_equal_to_the_first_run``: the same for the whole row (answer and routing). ``--profile`` adds where the
time goes at each batch size (torch.profiler over one pass: the model's products, attention, the encoders,
and what is left for Python and dispatch) and the CPU seconds (``cpu_s``, the process's own time, less
sensitive to other jobs than the wall clock).
Writes benchmarks/results/predict_<device>.json.
"""

from __future__ import annotations

import argparse
import functools
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
from crabplus.model.invariant import request_strict_gemm

request_strict_gemm()  # before any product, as `crabplus predict` does (crabplus.model.invariant)

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


#: torch.profiler's operator names, by what they are (the self time of every other operator is "other ops")
OP_KINDS = {
    "products (mm, addmm, bmm)": ("aten::mm", "aten::addmm", "aten::addmm_", "aten::bmm", "aten::baddbmm"),
    "attention (sdpa)": (
        "aten::_scaled_dot_product_flash_attention_for_cpu",
        "aten::_scaled_dot_product_attention_math",
    ),
    "convolutions": ("aten::slow_conv3d_forward", "aten::_slow_conv2d_forward", "aten::thnn_conv2d"),
    "copies (cat, copy, to)": ("aten::cat", "aten::copy_", "aten::_to_copy", "aten::clone", "aten::contiguous"),
}


def profile_pass(run) -> dict:
    """One pass of ``run()`` under torch.profiler (CPU): the process's CPU seconds, the operators' self time by
    kind (:data:`OP_KINDS`) and the rest of the CPU time (Python, transformers' generate loop, dispatch)."""
    from torch.profiler import ProfilerActivity, profile

    cpu0 = time.process_time()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    cpu = time.process_time() - cpu0
    kinds = dict.fromkeys([*OP_KINDS, "other ops"], 0.0)
    calls = 0
    for event in prof.key_averages():
        if not event.key.startswith("aten::"):
            continue
        calls += event.count
        kind = next((k for k, names in OP_KINDS.items() if event.key in names), "other ops")
        kinds[kind] += event.self_cpu_time_total / 1e6
    ops = sum(kinds.values())
    return {
        "cpu_s": round(cpu, 3),
        "aten_calls": calls,
        "ops_self_s": {k: round(v, 3) for k, v in kinds.items()},
        "outside_ops_s": round(max(cpu - ops, 0.0), 3),
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
    profile: bool = False,
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
    floor = batching.cpu_min_rows() if device.type == "cpu" else 1
    runs: list[tuple[str, int, int | None]] = [(f"batch_{b}", b, None) for b in batches]
    if device.type == "cpu" and 1 in batches and floor > 1:  # batch 1 as one row: what the CPU floor costs
        runs.insert(batches.index(1) + 1, ("batch_1_one_row", 1, 1))
    seconds: dict[str, list[float]] = {name: [] for name, *_ in runs}
    cpu_s: dict[str, list[float]] = {name: [] for name, *_ in runs}
    encode_s: dict[str, list[float]] = {name: [] for name, *_ in runs}
    rows: dict[str, list[dict]] = {}
    tokens: dict[str, int] = {}

    def one_pass(batch: int, min_rows: int | None, output: Path):
        output.unlink(missing_ok=True)
        saved, batching.CPU_MIN_ROWS = batching.CPU_MIN_ROWS, min_rows
        try:
            return predict_many(
                iter(items),
                predictor,
                output,
                max_new_tokens=new_tokens,
                progress=False,
                batch_size=batch,
                compiled=compiled,
            )
        finally:
            batching.CPU_MIN_ROWS = saved

    for _ in range(rounds):  # the variants interleaved, so that a busy spell of the machine hits them all
        for name, batch, min_rows in runs:
            output = work / f"{name}.jsonl"
            spent["encode"] = 0.0
            cpu0 = time.process_time()
            summary = one_pass(batch, min_rows, output)
            cpu_s[name].append(time.process_time() - cpu0)
            seconds[name].append(summary.seconds)
            encode_s[name].append(spent["encode"])
            rows[name] = [json.loads(line) for line in output.read_text().splitlines()]
            tokens[name] = generated_tokens(predictor.tokenizer, output)
    out = {}
    first = runs[0][0]
    for name, *_ in runs:
        pairs = list(zip(rows[name], rows[first]))
        same_text = sum(a["predict"] == b["predict"] for a, b in pairs) / max(len(pairs), 1)
        same_row = sum(a == b for a, b in pairs) / max(len(pairs), 1)
        out[name] = summarize(
            name,
            seconds[name],
            len(rows[name]),
            tokens[name],
            {
                "min_rows": min_rows_of(runs, name, floor),
                "cpu_s_best": round(min(cpu_s[name]), 3),
                "cpu_s_all": [round(x, 3) for x in cpu_s[name]],
                "encode_s_best_run": round(encode_s[name][seconds[name].index(min(seconds[name]))], 3),
                "rows_with_the_first_runs_text": round(same_text, 3),
                "rows_equal_to_the_first_run": round(same_row, 3),
            },
        )
    for name, *_ in runs:
        out[name][f"speedup_vs_{first}"] = round(out[name]["records_per_s"] / out[first]["records_per_s"], 2)
        out[name][f"cpu_speedup_vs_{first}"] = round(out[first]["cpu_s_best"] / out[name]["cpu_s_best"], 2)
    if profile:
        for name, batch, min_rows in runs:
            out[name]["profile"] = profile_pass(functools.partial(one_pass, batch, min_rows, work / "p.jsonl"))
            print(f"{name} profile: {out[name]['profile']}", flush=True)
    return out


def min_rows_of(runs: list[tuple[str, int, int | None]], name: str, floor: int) -> int:
    """The fewest rows the variant's batches were decoded with (its own setting, else the measured floor)."""
    setting = next(min_rows for n, _, min_rows in runs if n == name)
    return setting if setting is not None else floor


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


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages (what `uptime` says), where the system has them."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


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
    parser.add_argument("--profile", action="store_true", help="add a torch.profiler pass per batch size")
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
        report["load_before"] = load_average()
        report["batches"] = run_batches(
            predictor, records, root, work, args.batches, args.new_tokens, device, args.rounds, args.profile
        )
        del predictor
        name = f"predict_{args.preset}_{device.type}" if args.preset else f"predict_{device.type}"
        out = args.out or RESULTS / f"{name}.json"
        write_report(out, report)  # the batches now, so that a run stopped during the processes keeps them
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
        report["load_after"] = load_average()
        write_report(out, report)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
