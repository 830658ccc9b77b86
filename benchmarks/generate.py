"""Generation speed: prefill time and decode ms per token, base vs I-LoRA, batch 1 and 8; and the ops
(kernels on a GPU) each decoded token runs.

    .venv/bin/python benchmarks/generate.py                         # CPU, tiny preset, float32
    python benchmarks/generate.py --preset omni-7b --device cuda    # the 7B thinker, bf16
    python benchmarks/generate.py --preset omni-7b --device cuda --compiled   # CUDA graphs, static cache

No checkpoint: random weights of the preset's shapes and one synthetic AV prompt per row
(benchmarks/thinker_bench.py; the 7B: 10 frames at 224 px + 10 s of audio, ~600 tokens). Greedy, with
no stop token, so every run decodes exactly ``--new-tokens``. Prefill = the time of a 1-token
generation; decode ms/token = (time of N tokens - time of 1) / (N - 1); best of ``--reps`` (on a CPU the
variants' runs are interleaved, on a GPU one variant runs after the other).
Variants: ``base`` (no adapter), ``ilora`` (this layer: its inference path), ``ilora_plain`` (the
formula before issue 14). I-LoRA as the release: r=128, N=3, encoders adapted (tiny: r=8).

``--count-ops`` profiles one generation of 1 and of N tokens per variant and reports the difference
per decoded token: aten ops called from Python (top level) and all aten ops; on a GPU also the CUDA
kernels launched. Writes benchmarks/results/generate_<preset>_<device>[_compiled].json.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time

import torch
from thinker_bench import (
    RESULTS,
    add_adapter,
    add_run_options,
    batch_of,
    build,
    device_and_dtype,
    device_name,
    report_header,
    sync,
    write_report,
)

from crabplus.model.generate import FORWARD_KEYS, compiled_options


def run_generate(model, inputs: dict, new_tokens: int, options: dict) -> torch.Tensor:
    with torch.no_grad():
        return model.generate(
            **inputs,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            num_beams=1,
            eos_token_id=[],
            pad_token_id=0,
            **options,
        )


def timed_generate(model, inputs: dict, new_tokens: int, options: dict, device: torch.device) -> float:
    sync(device)
    t0 = time.perf_counter()
    run_generate(model, inputs, new_tokens, options)
    sync(device)
    return time.perf_counter() - t0


#: Ops that only make views, allocate or are no-ops: not counted as work.
NOT_WORK = {
    "aten::" + n
    for n in (
        "view",
        "slice",
        "unsqueeze",
        "squeeze",
        "t",
        "transpose",
        "permute",
        "expand",
        "select",
        "as_strided",
        "alias",
        "detach",
        "empty",
        "empty_strided",
        "empty_like",
        "resize_",
        "_reshape_alias",
        "reshape",
        "flatten",
        "to",
        "lift_fresh",
        "result_type",
        "split",
        "split_with_sizes",
        "narrow",
        "unbind",
        "_unsafe_view",
        "contiguous",
        "item",
        "_local_scalar_dense",
        "is_nonzero",
        "chunk",
        "expand_as",
        "view_as",
        "numpy_T",
        "dim",
        "size",
        "resolve_conj",
        "resolve_neg",
        "_to_copy",
        "linear",
        "matmul",
        "softmax",
        "dropout",
    )
}


#: Products counted as one op whatever they call inside (the bias copy of addmm, conj checks).
PRODUCTS = {
    "aten::" + n
    for n in (
        "mm",
        "addmm",
        "addmm_",
        "bmm",
        "baddbmm",
        "convolution",
        "_scaled_dot_product_flash_attention_for_cpu",
        "_scaled_dot_product_efficient_attention",
        "_scaled_dot_product_flash_attention",
        "_scaled_dot_product_cudnn_attention",
    )
}


def inside_product(e) -> bool:
    parent = e.cpu_parent
    while parent is not None:
        if parent.name in PRODUCTS:
            return True
        parent = parent.cpu_parent
    return False


def work_ops(events) -> list:
    """The aten ops that do work with no aten op below them doing work (a product counts as one): about
    one per kernel."""
    memo: dict[int, bool] = {}

    def has_work(e) -> bool:  # e or something under it does work
        if id(e) not in memo:
            below = [has_work(c) for c in e.cpu_children if c.name.startswith("aten::")]
            memo[id(e)] = any(below) or e.name not in NOT_WORK
        return memo[id(e)]

    return [
        e
        for e in events
        if e.name.startswith("aten::")
        and not inside_product(e)
        and (
            e.name in PRODUCTS
            or (e.name not in NOT_WORK and not any(has_work(c) for c in e.cpu_children if c.name.startswith("aten::")))
        )
    ]


def op_counts(model, inputs: dict, new_tokens: int, options: dict, device: torch.device) -> dict:
    """Ops per decoded token: (count for N tokens - count for 1 token) / (N - 1). ``compute_ops``: aten
    ops that call no other aten op and do work (not views, allocations or no-op casts), i.e. roughly the
    kernels a CPU runs; ``aten_all``: every aten op call; on a GPU ``cuda_kernels``: kernels launched."""
    from torch.profiler import ProfilerActivity, profile

    def count(n: int) -> dict:
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=activities) as prof:
            run_generate(model, inputs, n, options)
            sync(device)
        events = prof.events()
        aten = [e for e in events if e.name.startswith("aten::") and e.device_type.name == "CPU"]
        work = work_ops(aten)
        kernels = [e for e in events if e.device_type.name == "CUDA"]
        return {"compute_ops": len(work), "aten_all": len(aten), "cuda_kernels": len(kernels)}

    one, many = count(1), count(new_tokens)
    per = {k: round((many[k] - one[k]) / (new_tokens - 1), 1) for k in one}
    if device.type != "cuda":
        per.pop("cuda_kernels")
    return per


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="tiny", choices=["tiny", "omni-3b", "omni-7b"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--variants", nargs="+", default=["base", "ilora", "ilora_plain"], choices=["base", "ilora", "ilora_plain"]
    )
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--new-tokens", type=int, default=None, help="default 64 (tiny: 32)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--rank", type=int, default=None, help="default 128 (tiny: 8)")
    parser.add_argument("--no-encoders", dest="encoders", action="store_false")
    parser.add_argument("--compiled", action="store_true", help="CUDA graphs over a static cache (CUDA only)")
    parser.add_argument("--count-ops", action="store_true", help="profile the ops per decoded token")
    add_run_options(parser)
    args = parser.parse_args(argv)
    device, dtype = device_and_dtype(args)
    rank = args.rank or (8 if args.preset == "tiny" else 128)
    new_tokens = args.new_tokens or (32 if args.preset == "tiny" else 64)
    rows: dict[str, dict] = {v: {} for v in args.variants}
    # A CPU run builds every variant and interleaves their timings (the machine is shared and noisy); a
    # GPU run takes one variant at a time, freed before the next (three 7B models need not fit at once).
    groups = [list(args.variants)] if device.type == "cpu" else [[v] for v in args.variants]
    for group in groups:
        models = {}
        for variant in group:
            print(f"building {variant} ...", file=sys.stderr, flush=True)
            model, tok = build(args.preset, device, dtype)
            if variant != "base":  # the base: the same random weights, no adapter at all
                model = add_adapter(model, variant, rank, 3, 0.0, args.encoders)
            models[variant] = model.eval()
        options = {v: compiled_options(m, device) if args.compiled else {} for v, m in models.items()}
        for b in args.batches:
            batch = batch_of(next(iter(models.values())), tok, b, args.preset, False, device)
            inputs = {k: batch[k] for k in FORWARD_KEYS if k in batch}
            first = {v: [] for v in models}
            full = {v: [] for v in models}
            for v, model in models.items():
                run_generate(model, inputs, new_tokens, options[v])  # warm-up (and the compile, if any)
            for _ in range(args.reps):
                for v, model in models.items():
                    first[v].append(timed_generate(model, inputs, 1, options[v], device))
                    full[v].append(timed_generate(model, inputs, new_tokens, options[v], device))
            for v, model in models.items():
                prefill, total = min(first[v]), min(full[v])
                row = {
                    "prompt_tokens": int(inputs["input_ids"].shape[1]),
                    "prefill_s": round(prefill, 4),
                    "decode_ms_per_token": round((total - prefill) / (new_tokens - 1) * 1e3, 3),
                    "prefill_s_all": [round(t, 4) for t in first[v]],
                    "total_s_all": [round(t, 4) for t in full[v]],
                }
                if args.count_ops:
                    row["ops_per_decoded_token"] = op_counts(model, inputs, new_tokens, options[v], device)
                rows[v][f"batch_{b}"] = row
        del models
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print(
        f"\n{args.preset} on {device_name(device)}, {new_tokens} new tokens, greedy"
        + (", compiled (CUDA graphs)" if args.compiled else "")
    )
    print(f"{'variant':<13}{'batch':>6}{'prompt':>8}{'prefill s':>11}{'decode ms/tok':>15}{'ops/token':>11}")
    for variant, per in rows.items():
        for key, r in per.items():
            ops = r.get("ops_per_decoded_token", {}).get("compute_ops", "-")
            print(
                f"{variant:<13}{key.removeprefix('batch_'):>6}{r['prompt_tokens']:>8}{r['prefill_s']:>11.3f}"
                f"{r['decode_ms_per_token']:>15.2f}{ops:>11}"
            )
    ratios = {}
    if "base" in rows:
        for variant, per in rows.items():
            for key, r in per.items():
                if variant != "base":
                    ratios[f"{variant}_{key}_decode_vs_base"] = round(
                        r["decode_ms_per_token"] / rows["base"][key]["decode_ms_per_token"], 3
                    )
    print("decode time relative to the base:", ratios)
    report = {
        **report_header(
            "generation speed, base vs I-LoRA (benchmarks/generate.py)", "benchmarks/generate.py", argv, device, dtype
        ),
        "preset": args.preset,
        "new_tokens": new_tokens,
        "rank": rank,
        "encoders": args.encoders,
        "compiled": args.compiled,
        "variants": rows,
        "decode_vs_base": ratios,
    }
    suffix = "_compiled" if args.compiled else ""
    out = args.out or RESULTS / f"generate_{args.preset}_{device.type}{suffix}.json"
    write_report(out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
