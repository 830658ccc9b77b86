"""Shared pieces of the model-level benchmarks (train_step.py, generate.py): a thinker of a preset's shapes
with random weights (no checkpoint), an adapter variant on it, synthetic batches, timing and profiling.

The thinker is built from the project's own builders, ``preset_dims`` + ``build_thinker_config`` with the
tiny tokenizer's special-token ids, and the inputs from ``dummy_sample`` (the processor's layout), so a
7B-shaped step needs nothing but a GPU with room for it.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import torch
from torch import nn

from crabplus.adapters import (
    ILoRAConfig,
    LoRAConfig,
    apply_ilora,
    apply_lora,
    freeze_base,
    ilora_layers,
    trainable_parameters,
)
from crabplus.adapters.reference import PerHeadILoRALinear
from crabplus.data.collate import collate
from crabplus.data.tokenizer import build_tiny_tokenizer
from crabplus.model.build import Thinker
from crabplus.model.init import init_audio_stem
from crabplus.model.presets import build_thinker_config, preset_dims
from crabplus.schema.tokens import special_token_ids

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test helpers: tests/helpers/
from helpers.dummy import dummy_sample  # noqa: E402

RESULTS = Path(__file__).parent / "results"

#: Adapter variants: I-LoRA (this layer), I-LoRA with the pre-issue-14 plain autograd formula, the
#: release's per-head loop, PEFT LoRA of rank r and of rank N r, and no adapter (the base alone).
VARIANTS = ("ilora", "ilora_plain", "loop", "peft_r", "peft_Nr", "base")

#: Media per sample by preset: 10 frames at 224 px and 10 s of audio for the 7B (the release's recipe
#: at 1 fps); the tiny model's own small inputs.
MEDIA = {
    "omni-7b": {"frames": 10, "frame_px": 224, "mel_frames": 1000},
    "omni-3b": {"frames": 10, "frame_px": 224, "mel_frames": 1000},
    "tiny": {"frames": 10, "frame_px": 56, "mel_frames": 400},
}

PROMPT = "Please judge the person's emotion at the moment, and explain the reasons from what you see and hear."
ANSWER = (
    "The speaker's voice rises and the face brightens while the music turns major; both point the same way. "
    "<answer>happy</answer>"
)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    except OSError:
        names = []
    return f"{names[0]} ({len(names)} logical CPUs)" if names else platform.processor() or "cpu"


def add_run_options(parser) -> None:
    """The options every thinker benchmark shares: thread count and where the JSON goes."""
    parser.add_argument("--threads", type=int, default=None, help="torch threads (a CPU run: 1 is the steadiest)")
    parser.add_argument("--out", default=None, help="the JSON's path (default: benchmarks/results/...)")


def device_and_dtype(args) -> tuple[torch.device, torch.dtype]:
    """Apply ``--threads``; the device asked for and its compute dtype (bf16 on a GPU, float32 on a CPU)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    return device, torch.bfloat16 if device.type == "cuda" else torch.float32


def report_header(what: str, script: str, argv, device: torch.device, dtype: torch.dtype) -> dict:
    """The fields every thinker benchmark's JSON starts with: what ran, the command, where and in what dtype."""
    import sys

    return {
        "what": what,
        "command": " ".join(["python", script, *(argv if argv is not None else sys.argv[1:])]),
        "device": device_name(device),
        "cpu_run": device.type == "cpu",
        "note": "CPU run: compare ratios between variants only" if device.type == "cpu" else "",
        "dtype": str(dtype).removeprefix("torch."),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def write_report(out: Path, report: dict) -> Path:
    """Write a benchmark's JSON (its folder made if need be) and say where."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return out


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU: {cpu_name()}"


def build(preset: str, device: torch.device, dtype: torch.dtype, seed: int = 0) -> tuple[nn.Module, object]:
    """(thinker with random weights, tiny tokenizer) for ``preset``; sdpa attention."""
    tok = build_tiny_tokenizer()
    dims = preset_dims(preset)
    config = build_thinker_config(dims, dims.vocab_size or len(tok), special_token_ids(tok))
    torch.manual_seed(seed)
    with torch.device(device):
        model = Thinker._from_config(config, attn_implementation="sdpa", dtype=dtype)
    if preset == "tiny":
        init_audio_stem(model)  # as the project's builder does
    return model, tok


def add_adapter(
    model: nn.Module, variant: str, rank: int, experts: int, dropout: float, encoders: bool, b_std: float = 0.01
) -> nn.Module:
    """``model`` with the adapter ``variant`` (see :data:`VARIANTS`); only the adapter trains. I-LoRA's
    heads get small random values (zero at init would make the step's numbers those of a start)."""
    if variant == "base":
        model.requires_grad_(False)
        return model
    if variant in ("peft_r", "peft_Nr"):
        r = rank if variant == "peft_r" else experts * rank
        return apply_lora(model, LoRAConfig(rank=r, alpha=2.0 * r, dropout=dropout, encoders=encoders))
    apply_ilora(
        model, ILoRAConfig(rank=rank, alpha=2.0 * rank, num_experts=experts, dropout=dropout, encoders=encoders)
    )
    for name, layer in list(ilora_layers(model)):
        with torch.no_grad():
            layer.lora_B.weight.normal_(std=b_std)
        if variant == "ilora_plain":
            layer.lean = False  # this model only: the plain autograd formula of before issue 14
        elif variant == "loop":
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, child, PerHeadILoRALinear(layer))
    freeze_base(model)
    return model


def batch_of(
    model: nn.Module,
    tok,
    samples: int,
    preset: str,
    answer: bool,
    device: torch.device,
    seed: int = 0,
    frames: int | None = None,
    mel_frames: int | None = None,
) -> dict:
    """A batch of ``samples`` synthetic AV samples (with the answer and labels when ``answer``), left-padded
    for generation (all rows have the same length anyway)."""
    ids = special_token_ids(tok)
    media = dict(MEDIA[preset])
    if frames is not None:
        media["frames"] = frames
    if mel_frames is not None:
        media["mel_frames"] = mel_frames
    gen = torch.Generator().manual_seed(seed)
    prompt = tok(PROMPT, add_special_tokens=False).input_ids
    reply = tok(ANSWER, add_special_tokens=False).input_ids if answer else None
    rows = [
        dummy_sample(model.config, prompt, reply, im_start=ids["im_start"], generator=gen, **media)
        for _ in range(samples)
    ]
    batch = collate(rows, ids["pad"], padding_side="left")
    dtype = next(model.parameters()).dtype
    media_keys = ("pixel_values_videos", "input_features")  # fed to the encoders in the model's dtype
    return {
        k: (v.to(device, dtype) if k in media_keys else v.to(device))
        for k, v in batch.items()
        if isinstance(v, torch.Tensor)
    }


def trainable_count(model: nn.Module) -> int:
    return sum(p.numel() for _, p in trainable_parameters(model))


def gemm_rate(device: torch.device, dtype: torch.dtype, n: int | None = None, reps: int = 5) -> float:
    """FLOP/s one large square matmul reaches here: the denominator of the 'measured-peak' utilisation."""
    n = n or (8192 if device.type == "cuda" else 1024)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(reps):
        sync(device)
        t0 = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def top_ops(step, device: torch.device, rows: int = 15) -> list[dict]:
    """The ops/kernels of one ``step()`` by self time (the device's on a GPU, the CPU's otherwise)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        step()
        sync(device)
    key = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    events = sorted(prof.key_averages(), key=lambda e: getattr(e, key), reverse=True)
    total = sum(getattr(e, key) for e in events) or 1.0
    return [
        {
            "op": e.key,
            "calls": e.count,
            "self_ms": round(getattr(e, key) / 1e3, 3),
            "share": round(getattr(e, key) / total, 4),
        }
        for e in events[:rows]
    ]


def print_ops(title: str, ops: list[dict]) -> None:
    print(f"\ntop ops, {title}")
    for o in ops:
        print(f"  {o['share']:>6.1%} {o['self_ms']:>10.2f} ms {o['calls']:>7} calls  {o['op'][:80]}")
