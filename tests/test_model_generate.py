"""Generation on left-padded batches: each row decodes as it would alone (M-RoPE positions follow the
attention mask in transformers 5.24; the modular family's causal LM numbers positions from the mask too), the
prompt is sliced off, and right padding is refused; on both model families."""

from __future__ import annotations

import pytest
import torch
from helpers.model import randomize_adapters, samples_of, tiny_model_config, tiny_tokenizer

from crabplus.data.collate import collate
from crabplus.model import attach_adapter, build_backbone
from crabplus.model.generate import FORWARD_KEYS, generate
from crabplus.schema.tokens import special_token_ids

# Generation prompts of different lengths and media sizes, so that the batch is really padded.
SPECS = [("the dog plays the", None, 4, 100), ("a", None, 2, 60), ("the red bird is happy", None, 6, 140)]


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


@pytest.fixture(scope="module", params=["unified", "modular"])
def family(request):
    return request.param


@pytest.fixture(scope="module")
def model(tok, family):
    torch.manual_seed(0)
    cfg = tiny_model_config(family=family)
    model = attach_adapter(build_backbone(cfg, tok), cfg)
    randomize_adapters(model, scale=0.05)  # larger random adapters amplify float noise between layouts
    return model.eval()


@pytest.fixture(scope="module")
def rows(model, tok):
    return samples_of(model, tok, SPECS)


def left(samples, tok):
    return collate(samples, special_token_ids(tok)["pad"], padding_side="left")


def scores(model, batch, steps=6):
    inputs = {k: batch[k] for k in FORWARD_KEYS if k in batch}
    with torch.no_grad():
        out = model.generate(
            **inputs,
            max_new_tokens=steps,
            do_sample=False,
            output_scores=True,
            return_dict_in_generate=True,
            eos_token_id=[],
            pad_token_id=0,
        )
    return out.sequences[:, inputs["input_ids"].shape[1] :], torch.stack(out.scores, 1)  # [B, steps], [B, steps, V]


def test_left_padded_batch_decodes_like_each_row_alone(model, tok, rows):
    batch = left(rows, tok)
    assert (batch["attention_mask"] == 0).any()  # really padded
    tokens, logits = scores(model, batch)
    for i, row in enumerate(rows):
        alone_tokens, alone_logits = scores(model, left([row], tok))
        torch.testing.assert_close(logits[i : i + 1], alone_logits, atol=1e-4, rtol=1e-4)
        assert torch.equal(tokens[i : i + 1], alone_tokens)


def test_generate_returns_stripped_text_without_the_prompt(model, tok, rows):
    texts = generate(model, tok, left(rows, tok), max_new_tokens=5)
    assert len(texts) == 3 and all(isinstance(t, str) for t in texts)
    assert texts == [generate(model, tok, left([row], tok), max_new_tokens=5)[0] for row in rows]
    tokens, _ = scores(model, left(rows[:1], tok), steps=5)
    assert texts[0] == tok.decode(tokens[0], skip_special_tokens=True).strip()
    assert all(text == text.strip() and "<|" not in text for text in texts)
    assert model.training is False


def test_right_padding_is_refused(model, tok, rows):
    batch = collate(rows, special_token_ids(tok)["pad"], padding_side="right")
    with pytest.raises(ValueError, match="right-padded"):
        generate(model, tok, batch, max_new_tokens=2)


def test_generate_through_a_peft_lora_model(tok, rows, family):
    cfg = tiny_model_config(adapter="lora", family=family)
    torch.manual_seed(0)
    base = build_backbone(cfg, tok)
    plain = generate(base, tok, left(rows[:2], tok), max_new_tokens=3)
    wrapped = attach_adapter(base, cfg)  # B = 0: the LoRA model still computes the base function
    assert generate(wrapped, tok, left(rows[:2], tok), max_new_tokens=3) == plain
