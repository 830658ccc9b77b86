"""I-LoRA speed and memory, side by side in one run (docs/model.md).

    .venv/bin/python benchmarks/ilora.py                   # CPU, float32: real layer shapes + tiny shapes
    .venv/bin/python benchmarks/ilora.py --tokens 512 --reps 7
    python benchmarks/ilora.py --device cuda --tokens 8192  # on a GPU: bfloat16, peak CUDA memory too
    .venv/bin/python benchmarks/ilora.py --dropout 0.1     # with the release's adapter dropout

Forward + backward of one adapted layer, and of the tiny thinker, for four variants:

- ``none``: the frozen base layer (the input still needs its gradient, as inside a network);
- ``ilora``: our layer, the N heads as ONE product of inner size N*r, its hand-written backward
  (crabplus.adapters.kernels: products in the base's dtype, float32 masters, only x, z and g saved);
- ``ilora_plain``: the same layer through the plain autograd formula it had before issue 14 (adapters
  computed in float32, every intermediate saved by autograd);
- ``loop``: the release's formulation, a Python loop over N contiguous heads (adapters.reference);
- ``peft_Nr``: plain PEFT LoRA of rank N*r (as many up-projection parameters as I-LoRA).

The FLOP floor comes first: a frozen base layer costs 4*T*d_in*d_out (forward, and the input's gradient);
an adapter matmul of m x k costs 6*T*m*k (forward, input gradient, weight gradient). The floor of a variant
is its FLOPs at the rate the base GEMM reaches on this machine; "x floor" is measured / floor. Variants
run round-robin, so machine noise hits all of them alike; times are the best of ``--reps`` (the least
disturbed run: on a shared CPU the median mostly measures the neighbours), medians are kept in the JSON.
Memory: bytes of non-parameter tensors autograd saves for backward (and the CUDA peak on a GPU).
Writes benchmarks/results/ilora_<device>.json and prints a table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from thinker_bench import cpu_name, write_report
from torch import nn

from crabplus.adapters import ILoRAConfig, LoRAConfig, apply_ilora, apply_lora, ilora_layers
from crabplus.adapters.layer import ILoRALinear
from crabplus.adapters.reference import PerHeadILoRALinear

RESULTS = Path(__file__).parent / "results"
VARIANTS = ("none", "ilora", "ilora_plain", "loop", "peft_Nr")


# ----------------------------------------------------------------------------- FLOPs


def layer_flops(variant: str, tokens: int, d_in: int, d_out: int, r: int, n: int) -> float:
    base = 4 * tokens * d_in * d_out
    if variant == "none":
        return base
    if variant == "peft_Nr":
        return base + 6 * tokens * (d_in * n * r + n * r * d_out)
    return base + 6 * tokens * (d_in * r + n * r * d_out + d_in * n)  # A, stacked B, router


# ----------------------------------------------------------------------------- measuring


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def saved_bytes(step, params: set[int]) -> int:
    """Bytes of the distinct non-parameter storages autograd keeps for backward during ``step()``."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in params:
            seen[ptr] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    return sum(seen.values())


def run_round_robin(steps: dict, reps: int, device: torch.device, budget_s: float = 3.0) -> dict[str, list[float]]:
    """Time each step() in interleaved rounds after one warm-up each; seconds per call. At least ``reps``
    rounds, and more while the slowest variant has used less than ``budget_s`` (200 rounds at most), so
    fast cases get many samples and their best is not one disturbed by the neighbours."""
    for step in steps.values():
        step()
    sync(device)
    times = {name: [] for name in steps}
    while len(times[next(iter(steps))]) < reps or (
        max(sum(t) for t in times.values()) < budget_s and len(times[next(iter(steps))]) < 200
    ):
        for name, step in steps.items():
            sync(device)
            t0 = time.perf_counter()
            step()
            sync(device)
            times[name].append(time.perf_counter() - t0)
    return times


def cuda_peak(step, device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    step()
    sync(device)
    return (torch.cuda.max_memory_allocated(device) - before) / 2**20


def mib(n: float) -> float:
    return round(n / 2**20, 2)


# ----------------------------------------------------------------------------- one layer


def plain_copy(layer: ILoRALinear) -> ILoRALinear:
    """An ILoRALinear on the same base with the same adapter weights, running the pre-issue-14 formula."""
    plain = ILoRALinear(layer, layer.config)  # takes over layer's base weight and bias (nn.Linear)
    plain.load_state_dict(layer.state_dict())
    plain.lean = False
    return plain


def bench_layer(
    name: str,
    d_in: int,
    d_out: int,
    r: int,
    n: int,
    tokens: int,
    reps: int,
    device: torch.device,
    dtype: torch.dtype,
    dropout: float = 0.0,
) -> dict:
    torch.manual_seed(0)
    holder = nn.Module()
    holder.up_proj = nn.Linear(d_in, d_out, bias=False, device=device, dtype=dtype).requires_grad_(False)
    base = holder.up_proj
    ilora = ILoRALinear(base, ILoRAConfig(rank=r, alpha=2.0 * r, num_experts=n, dropout=dropout))
    with torch.no_grad():
        ilora.lora_B.weight.normal_(std=0.01)
    loop = PerHeadILoRALinear(ilora)
    peft = apply_lora(holder, LoRAConfig(rank=n * r, alpha=2.0 * n * r, dropout=dropout, target_modules=["up_proj"]))
    modules = {
        "none": base,
        "ilora": ilora,
        "ilora_plain": plain_copy(ilora),
        "loop": loop,
        "peft_Nr": peft.base_model.model.up_proj,
    }
    x = torch.randn(1, tokens, d_in, device=device, dtype=dtype, requires_grad=True)
    grad_out = torch.randn(1, tokens, d_out, device=device, dtype=dtype)

    def step_of(module):
        def step():
            x.grad = None
            for p in module.parameters():
                p.grad = None
            module(x).backward(grad_out)

        return step

    steps = {k: step_of(m) for k, m in modules.items()}
    params = {p.untyped_storage().data_ptr() for m in modules.values() for p in m.parameters()}
    times = run_round_robin(steps, reps, device)
    base_flops = layer_flops("none", tokens, d_in, d_out, r, n)
    rate = base_flops / min(times["none"])  # FLOP/s the base GEMM reaches here
    out = {
        "name": name,
        "d_in": d_in,
        "d_out": d_out,
        "rank": r,
        "num_experts": n,
        "tokens": tokens,
        "guide_floor_overhead": round((r + n * r) / d_in, 4),
        "base_gflops_per_s": round(rate / 1e9, 1),
        "variants": {},
    }
    for k in VARIANTS:
        flops = layer_flops(k, tokens, d_in, d_out, r, n)
        ms = min(times[k]) * 1e3
        floor_ms = flops / rate * 1e3
        adapter = sum(p.numel() * p.element_size() for p in modules[k].parameters() if p.requires_grad)
        out["variants"][k] = {
            "ms": round(ms, 3),
            "ms_median": round(statistics.median(times[k]) * 1e3, 3),
            "ms_all": [round(t * 1e3, 3) for t in times[k]],
            "gflop": round(flops / 1e9, 3),
            "floor_ms": round(floor_ms, 3),
            "x_floor": round(ms / floor_ms, 3),
            "saved_activations_mib": mib(saved_bytes(steps[k], params)),
            "adapter_params_mib": mib(adapter),
            "cuda_peak_mib": cuda_peak(steps[k], device),
        }
    out["ratios"] = ratios(out["variants"])
    return out


def ratios(v: dict) -> dict:
    return {
        "ilora_vs_peft_Nr": round(v["ilora"]["ms"] / v["peft_Nr"]["ms"], 3),  # goal <= 1.10
        "loop_vs_ilora": round(v["loop"]["ms"] / v["ilora"]["ms"], 3),  # goal >= 1.3
        "ilora_vs_floor": v["ilora"]["x_floor"],  # goal <= 1.2
        "ilora_vs_none": round(v["ilora"]["ms"] / v["none"]["ms"], 3),
        "plain_vs_ilora": round(v["ilora_plain"]["ms"] / v["ilora"]["ms"], 3),
    }


# ----------------------------------------------------------------------------- the tiny thinker


def bench_tiny_model(reps: int, device: torch.device, dtype: torch.dtype, r: int = 8, n: int = 3) -> dict:
    from helpers.dummy import dummy_sample  # on sys.path through thinker_bench

    from crabplus.data.collate import collate
    from crabplus.data.tokenizer import build_tiny_tokenizer
    from crabplus.model import build_thinker
    from crabplus.model.config import ModelConfig
    from crabplus.schema.tokens import special_token_ids

    tok = build_tiny_tokenizer()
    ids = special_token_ids(tok)

    def thinker():
        torch.manual_seed(0)
        return build_thinker(ModelConfig(preset="tiny", adapter="none"), tok, device=device).to(dtype)

    models = {"none": thinker()}
    # The frozen base still back-propagates to its input embeddings, as it does to the first adapter.
    for name, p in models["none"].named_parameters():
        p.requires_grad_(name.endswith("embed_tokens.weight"))
    models["ilora"] = apply_ilora(thinker(), ILoRAConfig(rank=r, alpha=2.0 * r, num_experts=n))
    for _, layer in ilora_layers(models["ilora"]):
        with torch.no_grad():
            layer.lora_B.weight.normal_(std=0.01)
    models["ilora_plain"] = apply_ilora(thinker(), ILoRAConfig(rank=r, alpha=2.0 * r, num_experts=n))
    models["ilora_plain"].load_state_dict(models["ilora"].state_dict())
    for _, layer in ilora_layers(models["ilora_plain"]):
        layer.lean = False
    models["loop"] = apply_ilora(thinker(), ILoRAConfig(rank=r, alpha=2.0 * r, num_experts=n))
    for name, layer in list(ilora_layers(models["loop"])):
        parent, _, child = name.rpartition(".")
        setattr(models["loop"].get_submodule(parent), child, PerHeadILoRALinear(layer))
    models["peft_Nr"] = apply_lora(thinker(), LoRAConfig(rank=n * r, alpha=2.0 * n * r))

    gen = torch.Generator().manual_seed(0)
    prompt = tok("Please judge the person's emotion at the moment.", add_special_tokens=False).input_ids
    answer = tok("The voice is loud. <answer>happy</answer>", add_special_tokens=False).input_ids
    samples = [
        dummy_sample(
            models["none"].config, prompt, answer, im_start=ids["im_start"], frames=10, mel_frames=400, generator=gen
        )
        for _ in range(2)
    ]
    batch = {k: v.to(device) for k, v in collate(samples, ids["pad"]).items() if isinstance(v, torch.Tensor)}

    def step_of(model):
        model.train()

        def step():
            model.zero_grad(set_to_none=True)
            model(**batch).loss.backward()

        return step

    steps = {k: step_of(m) for k, m in models.items()}
    times = run_round_robin(steps, reps, device)
    out = {
        "name": "tiny thinker",
        "tokens_per_sample": int(batch["input_ids"].shape[1]),
        "batch": 2,
        "rank": r,
        "num_experts": n,
        "variants": {},
    }
    for k in VARIANTS:
        params = {p.untyped_storage().data_ptr() for p in models[k].parameters()}
        trainable = sum(p.numel() for p in models[k].parameters() if p.requires_grad)
        out["variants"][k] = {
            "ms": round(min(times[k]) * 1e3, 3),
            "ms_median": round(statistics.median(times[k]) * 1e3, 3),
            "ms_all": [round(t * 1e3, 3) for t in times[k]],
            "trainable_params": trainable,
            "saved_activations_mib": mib(saved_bytes(steps[k], params)),
            "cuda_peak_mib": cuda_peak(steps[k], device),
        }
    v = out["variants"]
    out["ratios"] = {
        "ilora_vs_peft_Nr": round(v["ilora"]["ms"] / v["peft_Nr"]["ms"], 3),
        "loop_vs_ilora": round(v["loop"]["ms"] / v["ilora"]["ms"], 3),
        "ilora_vs_none": round(v["ilora"]["ms"] / v["none"]["ms"], 3),
        "plain_vs_ilora": round(v["ilora_plain"]["ms"] / v["ilora"]["ms"], 3),
    }
    return out


# ----------------------------------------------------------------------------- report


def print_table(results: list[dict]) -> None:
    head = f"{'case':<34}{'variant':<13}{'best ms':>10}{'x floor':>9}{'saved MiB':>11}{'adapter MiB':>12}"
    print(head)
    print("-" * len(head))
    for res in results:
        for k, v in res["variants"].items():
            floor = f"{v['x_floor']:.2f}" if "x_floor" in v else "-"
            adapter = f"{v['adapter_params_mib']:.1f}" if "adapter_params_mib" in v else "-"
            print(f"{res['name']:<34}{k:<13}{v['ms']:>10.2f}{floor:>9}{v['saved_activations_mib']:>11.1f}{adapter:>12}")
        r = res["ratios"]
        extra = f", I-LoRA / floor {r['ilora_vs_floor']:.2f} (goal <= 1.20)" if "ilora_vs_floor" in r else ""
        print(
            f"  -> I-LoRA / PEFT(N*r) {r['ilora_vs_peft_Nr']:.2f} (goal <= 1.10), loop / I-LoRA "
            f"{r['loop_vs_ilora']:.2f} (goal >= 1.30){extra}, I-LoRA / none {r['ilora_vs_none']:.2f}, "
            f"before issue 14 / now {r['plain_vs_ilora']:.2f}"
        )
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=256, help="tokens per layer call (real shapes)")
    parser.add_argument(
        "--reps",
        type=int,
        default=7,
        help="least timed rounds per variant (best reported); fast cases run more, up to 3 s per variant",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--skip-real", action="store_true", help="only the tiny shapes")
    parser.add_argument("--dropout", type=float, default=0.0, help="adapter dropout of the layer cases")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default results/ilora_<device>.json)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    cases = (
        []
        if args.skip_real
        else [
            ("LLM up_proj 3584->18944 (7B)", 3584, 18944, 128, 3, args.tokens),
            ("LLM q_proj 3584->3584 (7B)", 3584, 3584, 128, 3, args.tokens),
        ]
    )
    cases.append(("tiny up_proj 128->384", 128, 384, 8, 3, 256))
    results = []
    for name, d_in, d_out, r, n, tokens in cases:
        print(f"running {name}, {tokens} tokens ...", file=sys.stderr, flush=True)
        results.append(bench_layer(name, d_in, d_out, r, n, tokens, args.reps, device, dtype, args.dropout))
    print("running the tiny thinker ...", file=sys.stderr, flush=True)
    results.append(bench_tiny_model(args.reps, device, dtype))
    print_table(results)
    report = {
        "what": "I-LoRA forward+backward, side by side (benchmarks/ilora.py)",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
        "dtype": str(dtype).removeprefix("torch."),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "dropout": args.dropout,
        "cpu_run": device.type == "cpu",
        "results": results,
    }
    out = args.out or RESULTS / f"ilora_{device.type}.json"
    write_report(out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
