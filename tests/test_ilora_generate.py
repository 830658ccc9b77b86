"""Decoding through the I-LoRA layers' inference path (no autograd, no dropout, weights cast and stacked
once): the same greedy tokens and scores as the training-path formula, and a static KV cache (what
compiled CUDA-graph generation decodes with) gives the same tokens as the dynamic one."""

from __future__ import annotations

import pytest
import torch
from helpers.model import randomize_adapters, samples_of, tiny_model_config, tiny_tokenizer

from crabplus.adapters import ILoRALinear, ilora_layers
from crabplus.data.collate import collate
from crabplus.model import attach_adapter, build_thinker
from crabplus.model.generate import FORWARD_KEYS, compiled_options
from crabplus.schema.tokens import special_token_ids

SPECS = [("the dog plays the", None, 4, 100), ("a", None, 2, 60)]


@pytest.fixture(scope="module")
def setup():
    tok = tiny_tokenizer()
    torch.manual_seed(0)
    cfg = tiny_model_config(adapter="ilora")
    model = attach_adapter(build_thinker(cfg, tok), cfg)
    randomize_adapters(model, scale=0.05)
    batch = collate(samples_of(model, tok, SPECS), special_token_ids(tok)["pad"], padding_side="left")
    return model.eval(), {k: batch[k] for k in FORWARD_KEYS if k in batch}


def greedy(model, inputs, **options):
    with torch.no_grad():
        out = model.generate(
            **inputs,
            max_new_tokens=6,
            do_sample=False,
            output_scores=True,
            return_dict_in_generate=True,
            eos_token_id=[],
            pad_token_id=0,
            **options,
        )
    return out.sequences[:, inputs["input_ids"].shape[1] :], torch.stack(out.scores, 1)  # [B, 6], [B, 6, V]


def test_inference_path_decodes_like_the_training_formula(setup, monkeypatch):
    model, inputs = setup
    calls = []
    infer = ILoRALinear.infer
    monkeypatch.setattr(ILoRALinear, "infer", lambda self, x, y: calls.append(1) or infer(self, x, y))
    tokens, scores = greedy(model, inputs)
    assert len(calls) >= 6 * sum(1 for _ in ilora_layers(model))  # every layer, every step took it
    monkeypatch.setattr(ILoRALinear, "lean", False)
    plain_tokens, plain_scores = greedy(model, inputs)
    assert torch.equal(tokens, plain_tokens)
    torch.testing.assert_close(scores, plain_scores, atol=1e-4, rtol=1e-4)


def test_static_cache_decodes_like_the_dynamic_one(setup):
    model, inputs = setup
    tokens, scores = greedy(model, inputs)
    static_tokens, static_scores = greedy(model, inputs, cache_implementation="static", disable_compile=True)
    assert torch.equal(tokens, static_tokens)
    torch.testing.assert_close(scores, static_scores, atol=1e-4, rtol=1e-4)


def test_compiled_generation_is_cuda_only(setup):
    model, _ = setup
    with pytest.raises(ValueError, match="CUDA"):
        compiled_options(model, torch.device("cpu"))
