"""GPU tier (skipped without CUDA): the I-LoRA layer on a bfloat16 base, as the real 7B model runs it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from crabplus.adapters import ILoRAConfig
from crabplus.adapters.layer import ILoRALinear


@pytest.mark.gpu
def test_ilora_on_bf16_cuda_matches_float32_reference():
    torch.manual_seed(0)
    base = nn.Linear(512, 1024).to("cuda", torch.bfloat16)
    layer = ILoRALinear(base, ILoRAConfig(rank=16, alpha=32.0, num_experts=3))
    assert layer.lora_A.weight.dtype == torch.float32, "adapters of a bf16 base are kept in float32"
    nn.init.normal_(layer.lora_B.weight, std=0.02)
    x = torch.randn(2, 64, 512, device="cuda", dtype=torch.bfloat16)  # [B, T, d_in]
    y = layer(x)
    assert y.dtype == torch.bfloat16 and y.shape == (2, 64, 1024)

    xf = x.float()
    g = torch.softmax(xf @ layer.lora_route.weight.float().T, dim=-1)  # [B, T, N]
    assert torch.allclose(g.sum(-1), torch.ones_like(g[..., 0]))
    z = xf @ layer.lora_A.weight.T  # [B, T, r]
    heads = layer.lora_B.weight.view(1024, 3, 16)  # [d_out, N, r]
    delta = torch.einsum("btn,btr,onr->bto", g, z, heads) * layer.scale
    ref = xf @ base.weight.float().T + base.bias.float() + delta
    assert torch.allclose(y.float(), ref, atol=0.05, rtol=0.02)
    y.float().sum().backward()
    assert layer.lora_A.weight.grad is not None and layer.lora_B.weight.grad is not None


@pytest.mark.gpu
def test_batched_compiled_decoding_answers_as_eager(small_avsynth, tmp_path):
    """The prediction-at-scale path on a GPU: a left-padded batch (prompts padded to a multiple of 64 tokens)
    decoded with a static cache and CUDA graphs gives the eager path's answers (float32, the tiny model)."""
    from helpers.predict import save_tiny_checkpoint

    from crabplus.infer.batching import answer_batch
    from crabplus.infer.predictor import Predictor
    from crabplus.schema.records import load_records

    checkpoint = save_tiny_checkpoint(tmp_path / "model")
    predictor = Predictor.from_checkpoint(checkpoint, device="cuda")
    records = load_records(small_avsynth / "s4" / "train.jsonl") + load_records(small_avsynth / "cremad" / "test.jsonl")
    entries = [(i, r, small_avsynth, "records") for i, r in enumerate(records)]
    eager = answer_batch(predictor, entries, max_new_tokens=16, compiled=False)
    compiled = answer_batch(predictor, entries, max_new_tokens=16, compiled=True)
    assert not eager.skipped and not compiled.skipped
    assert [row.predict for _, row in compiled.rows] == [row.predict for _, row in eager.rows]
