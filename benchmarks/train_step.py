"""One training step of a thinker, side by side for adapter variants: tokens/s, peak memory and MFU.

    .venv/bin/python benchmarks/train_step.py                        # CPU, tiny preset, float32, round-robin
    python benchmarks/train_step.py --preset omni-7b --device cuda   # the 7B-shaped step, bf16, one large GPU
    python benchmarks/train_step.py --preset omni-7b --device cuda --batch 8 --no-checkpointing --variants ilora peft_r
    python benchmarks/train_step.py ... --profile                    # top kernels (ops on a CPU) of one step

No checkpoint: random weights of the preset's shapes (benchmarks/thinker_bench.py). The step is the
release's recipe unless told otherwise: I-LoRA r=128, alpha=256, N=3, dropout 0.1 with the encoders
adapted, gradient checkpointing (non-reentrant), a batch of 4 samples of 10 frames at 224 px + 10 s of
audio + prompt and answer (the tiny preset: r=8 and its own small media), the model's own loss, AdamW
(fused on a GPU) on the adapter. ``--loss answer`` instead computes logits at the supervised positions
only, as ``crabplus.train`` does. Variants (see thinker_bench.VARIANTS): ``ilora`` (this layer),
``ilora_plain`` (the formula before issue 14), ``loop`` (the release's per-head loop), ``peft_r`` and
``peft_Nr`` (PEFT LoRA of rank r and N r).

FLOPs are counted, not estimated: ``torch.utils.flop_counter.FlopCounterMode`` over one step counts every
matmul, convolution and attention product it runs: the forward, the input gradients through the frozen
base, the adapters' weight gradients, and the forward that checkpointing recomputes. MFU = counted FLOPs
/ step time / peak, against two peaks: ``--peak-tflops`` (the card's datasheet figure, when given) and the
rate one large square matmul reaches in the same run ("of GEMM", the only one given on a CPU).

On a CPU the models are all built first and their steps interleaved round after round (the machine is
shared; compare ratios); on a GPU variants run one after another, each model freed before the next.
Writes benchmarks/results/train_step_<preset>_<device>.json.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time

import torch
from thinker_bench import (
    RESULTS,
    VARIANTS,
    add_adapter,
    add_run_options,
    batch_of,
    build,
    device_and_dtype,
    device_name,
    gemm_rate,
    print_ops,
    report_header,
    sync,
    top_ops,
    trainable_count,
    write_report,
)

from crabplus.adapters import trainable_parameters
from crabplus.model.generate import FORWARD_KEYS
from crabplus.train.loss import logits_only_at, predicting_positions, selected_token_losses


def make_model(args, variant: str, device: torch.device, dtype: torch.dtype):
    model, tok = build(args.preset, device, dtype)
    if args.checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model = add_adapter(model, variant, args.rank, args.experts, args.dropout, args.encoders)
    return model, tok


def make_step(model, batch: dict, loss_mode: str, device: torch.device):
    """step() -> loss: forward, backward and an optimizer step on the trainable parameters."""
    params = [p for _, p in trainable_parameters(model)]
    opt = torch.optim.AdamW(params, lr=1e-6, fused=device.type == "cuda")
    inputs = {k: batch[k] for k in FORWARD_KEYS if k in batch}
    labels = batch["labels"]
    keep = predicting_positions(labels)  # [B, T]
    model.train()

    def step() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        if loss_mode == "model":
            loss = model(**inputs, labels=labels).loss
        else:
            with logits_only_at(model, keep):
                logits = model(**inputs).logits  # [N, V] at the supervised positions only
            loss_sum, count = selected_token_losses(logits, labels, keep)
            loss = loss_sum.sum() / count.sum()
        loss.backward()
        opt.step()
        return loss.detach()

    return step


def addmm_inplace_flops(self_shape, a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    """``y.addmm_(a, b)``: 2 m n k, as out-of-place addmm (FlopCounterMode has no entry for the in-place op,
    which I-LoRA's MixHeads and inference path use to add s B (g (x) z) into the base's output)."""
    (m, k), (_, n) = a_shape, b_shape
    return 2 * m * n * k


def counted_flops(step) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False, custom_mapping={torch.ops.aten.addmm_: addmm_inplace_flops})
    with counter:
        step()
    return int(counter.get_total_flops())


def measure(
    name: str,
    step,
    times: list[float],
    tokens: int,
    flops: int,
    gemm: float,
    peak: float | None,
    peak_mem: float | None,
    trainable: int,
) -> dict:
    best = min(times)
    row = {
        "variant": name,
        "trainable_params": trainable,
        "step_s": round(best, 4),
        "step_s_median": round(sorted(times)[len(times) // 2], 4),
        "steps_s": [round(t, 4) for t in times],
        "tokens_per_s": round(tokens / best, 1),
        "flops_per_step": flops,
        "mfu_of_gemm": round(flops / best / gemm, 4),
        "peak_mem_gib": peak_mem,
    }
    if peak:
        row["mfu_of_datasheet"] = round(flops / best / (peak * 1e12), 4)
    return row


def timed(step, device: torch.device) -> float:
    sync(device)
    t0 = time.perf_counter()
    step()
    sync(device)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="tiny", choices=["tiny", "omni-3b", "omni-7b"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--variants",
        nargs="+",
        default=None,
        choices=[v for v in VARIANTS if v != "base"],
        help="default: all but base",
    )
    parser.add_argument("--batch", type=int, default=4, help="samples per step")
    parser.add_argument("--frames", type=int, default=None, help="video frames per sample (default by preset)")
    parser.add_argument("--mel-frames", type=int, default=None, help="audio mel frames per sample (100 per s)")
    parser.add_argument("--rank", type=int, default=None, help="default 128 (tiny: 8)")
    parser.add_argument("--experts", type=int, default=3)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--no-encoders", dest="encoders", action="store_false", help="adapt the LLM only")
    parser.add_argument("--no-checkpointing", dest="checkpointing", action="store_false")
    parser.add_argument("--loss", default="model", choices=["model", "answer"])
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=None, help="timed steps per variant (default 4; CPU 10)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's datasheet peak, for MFU")
    parser.add_argument("--profile", action="store_true", help="print and record the top ops of one step")
    add_run_options(parser)
    args = parser.parse_args(argv)
    device, dtype = device_and_dtype(args)
    args.rank = args.rank or (8 if args.preset == "tiny" else 128)
    steps_n = args.steps or (4 if device.type == "cuda" else 10)
    variants = args.variants or [v for v in VARIANTS if v != "base"]
    gemm = gemm_rate(device, dtype)
    rows, profiles, tokens = {}, {}, 0

    def finish(name, model, step, times, peak_mem):
        flops = counted_flops(step)
        rows[name] = measure(name, step, times, tokens, flops, gemm, args.peak_tflops, peak_mem, trainable_count(model))
        if args.profile:
            profiles[name] = top_ops(step, device)
            print_ops(f"{args.preset} {name}", profiles[name])

    if device.type == "cuda":
        for name in variants:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            model, tok = make_model(args, name, device, dtype)
            batch = batch_of(
                model, tok, args.batch, args.preset, True, device, frames=args.frames, mel_frames=args.mel_frames
            )
            tokens = int(batch["attention_mask"].sum())
            step = make_step(model, batch, args.loss, device)
            try:
                for _ in range(args.warmup):
                    step()
                torch.cuda.reset_peak_memory_stats(device)
                times = [timed(step, device) for _ in range(steps_n)]
                peak = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
                finish(name, model, step, times, peak)
            except torch.OutOfMemoryError as exc:
                rows[name] = {"variant": name, "error": f"out of memory: {str(exc).splitlines()[0]}"}
            del model, step, batch
            gc.collect()
            torch.cuda.empty_cache()
    else:
        models, steps = {}, {}
        for name in variants:
            models[name], tok = make_model(args, name, device, dtype)
            batch = batch_of(
                models[name], tok, args.batch, args.preset, True, device, frames=args.frames, mel_frames=args.mel_frames
            )
            tokens = int(batch["attention_mask"].sum())
            steps[name] = make_step(models[name], batch, args.loss, device)
        for _ in range(args.warmup):
            for step in steps.values():
                step()
        times = {name: [] for name in variants}
        for _ in range(steps_n):
            for name, step in steps.items():
                times[name].append(timed(step, device))
        for name in variants:
            finish(name, models[name], steps[name], times[name], None)

    print(
        f"\n{args.preset} on {device_name(device)}, {tokens} tokens per step ({args.batch} samples), "
        f"checkpointing {'on' if args.checkpointing else 'off'}, loss {args.loss}"
    )
    print(
        f"{'variant':<13}{'trainable M':>12}{'step s':>9}{'tokens/s':>10}{'GFLOP':>10}{'MFU/GEMM':>10}{'peak GiB':>10}"
    )
    for name, r in rows.items():
        if "error" in r:
            print(f"{name:<13} {r['error']}")
            continue
        print(
            f"{name:<13}{r['trainable_params'] / 1e6:>12.1f}{r['step_s']:>9.3f}{r['tokens_per_s']:>10.0f}"
            f"{r['flops_per_step'] / 1e9:>10.1f}{r['mfu_of_gemm']:>10.1%}{r['peak_mem_gib'] or 0:>10.2f}"
        )
    ok = {k: r for k, r in rows.items() if "error" not in r}
    ratios = {
        f"{k}_vs_ilora": round(r["step_s"] / ok["ilora"]["step_s"], 3)
        for k, r in ok.items()
        if "ilora" in ok and k != "ilora"
    }
    print("step time relative to ilora:", ratios)
    report = {
        **report_header(
            "one training step per adapter variant (benchmarks/train_step.py)",
            "benchmarks/train_step.py",
            argv,
            device,
            dtype,
        ),
        "preset": args.preset,
        "tokens_per_step": tokens,
        "samples": args.batch,
        "rank": args.rank,
        "experts": args.experts,
        "dropout": args.dropout,
        "encoders": args.encoders,
        "checkpointing": args.checkpointing,
        "loss": args.loss,
        "gemm_tflops": round(gemm / 1e12, 3),
        "flops": "counted by FlopCounterMode over one step: forward + input gradients + adapter weight "
        "gradients + checkpointing's recomputed forward",
        "variants": rows,
        "step_time_vs_ilora": ratios,
        "top_ops": profiles,
    }
    out = args.out or RESULTS / f"train_step_{args.preset}_{device.type}.json"
    write_report(out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
