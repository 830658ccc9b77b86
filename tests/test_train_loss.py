"""The training loss: the thinker's own causal-LM loss, counted on the answer span only."""

from __future__ import annotations

import pytest
import torch
from helpers.dummy import dummy_sample

from crabplus.data.collate import collate
from crabplus.data.tokenizer import build_tiny_tokenizer
from crabplus.model import build_thinker
from crabplus.model.config import ModelConfig
from crabplus.schema.tokens import special_token_ids
from crabplus.train.loss import (
    IGNORE_INDEX,
    logits_only_at,
    predicting_positions,
    selected_token_losses,
    supervised_tokens,
    token_losses,
)


@pytest.fixture(scope="module")
def tiny():
    tok = build_tiny_tokenizer()
    torch.manual_seed(0)
    return tok, build_thinker(ModelConfig(preset="tiny", adapter="none"), tok)


def two_sample_batch(tok, model, seed: int) -> dict:
    """Two dummy samples (1 and 3 answer tokens + <|im_end|>), right-padded."""
    ids = special_token_ids(tok)
    gen = torch.Generator().manual_seed(seed)
    samples = [
        dummy_sample(
            model.config, [500, 600, 700][:n], [800, 900, 1000, 1100][: n + 1], im_start=ids["im_start"], generator=gen
        )
        for n in (1, 3)
    ]
    return collate(samples, ids["pad"], "right")


def test_per_sample_sums_give_the_thinkers_own_loss(tiny):
    tok, model = tiny
    batch = two_sample_batch(tok, model, seed=0)
    # transformers computes the shifted mean over the supervised tokens itself
    out = model(**{k: v for k, v in batch.items() if isinstance(v, torch.Tensor)})
    loss_sum, count = token_losses(out.logits, batch["labels"])
    assert count.tolist() == [3, 5]  # answer tokens + <|im_end|>, per sample
    assert supervised_tokens(batch["labels"]) == 8
    torch.testing.assert_close(loss_sum.sum() / count.sum(), out.loss, rtol=1e-6, atol=1e-6)


def test_only_the_answer_span_carries_gradient(tiny, tmp_path):
    """Encode a real AVSynth record: the supervised tokens are "\\n" + target + "<|im_end|>", and the
    loss's gradient reaches the logits of exactly the positions that predict them."""
    from crabplus.data.processor import CrabProcessor
    from crabplus.schema.records import load_records
    from crabplus.synth import SynthConfig, generate

    tok, model = tiny
    generate(tmp_path, SynthConfig(per_dataset=2, datasets=["cremad"]))
    record = load_records(tmp_path / "cremad" / "train.jsonl")[0]
    sample = CrabProcessor(tok, model.config, image_size=56).encode(record, tmp_path, with_target=True)
    labels = sample["labels"][None]  # [1, L]
    span = labels[0] != IGNORE_INDEX
    assert tok.decode(sample["input_ids"][span]) == "\n" + record.target + "<|im_end|>"
    assert not span[: int(span.nonzero()[0])].any()  # nothing of the prompt (system, media, instruction)

    logits = model(
        input_ids=sample["input_ids"][None],
        attention_mask=sample["attention_mask"][None],
        **{
            k: sample[k]
            for k in (
                "pixel_values_videos",
                "video_grid_thw",
                "video_second_per_grid",
                "input_features",
                "feature_attention_mask",
            )
        },
    ).logits
    logits = logits.detach().requires_grad_(True)
    loss_sum, count = token_losses(logits, labels)
    (loss_sum.sum() / count.sum()).backward()
    touched = logits.grad[0].abs().sum(-1) > 0  # [L]
    expected = torch.zeros_like(touched)
    expected[:-1] = span[1:]  # position t predicts token t+1
    assert torch.equal(touched, expected)


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="disagree"):
        token_losses(torch.zeros(2, 5, 7), torch.zeros(2, 4, dtype=torch.long))


def test_logits_only_at_the_supervised_positions_give_the_same_loss_and_gradients(tiny):
    """The head run on the kept positions only (the training loop's path) equals the full-logits loss,
    in value per sample and in every parameter's gradient; the hook is gone after the block."""
    tok, model = tiny
    batch = two_sample_batch(tok, model, seed=1)
    inputs = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor) and k != "labels"}
    labels = batch["labels"]

    def loss_and_grads(selected: bool):
        model.zero_grad()
        if selected:
            keep = predicting_positions(labels)
            with logits_only_at(model, keep):
                logits = model(**inputs).logits
            assert logits.shape == (int(keep.sum()), model.config.text_config.vocab_size)
            loss_sum, count = selected_token_losses(logits, labels, keep)
        else:
            loss_sum, count = token_losses(model(**inputs).logits, labels)
        (loss_sum.sum() / count.sum()).backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        return loss_sum.detach(), count, grads

    full_sum, full_count, full_grads = loss_and_grads(selected=False)
    sel_sum, sel_count, sel_grads = loss_and_grads(selected=True)
    assert sel_count.tolist() == full_count.tolist() == [3, 5]
    torch.testing.assert_close(sel_sum, full_sum, rtol=1e-5, atol=1e-6)
    assert sel_grads.keys() == full_grads.keys()
    for name, grad in full_grads.items():
        torch.testing.assert_close(sel_grads[name], grad, rtol=1e-4, atol=1e-7, msg=name)
    model.zero_grad()
    assert model(**inputs).logits.shape[:2] == labels.shape  # the hook was removed


def test_selected_losses_refuse_logits_of_the_wrong_length():
    labels = torch.tensor([[IGNORE_INDEX, 5, 6, IGNORE_INDEX]])
    keep = predicting_positions(labels)
    assert keep.tolist() == [[True, True, False, False]]
    with pytest.raises(ValueError, match="one row per kept position"):
        selected_token_losses(torch.zeros(3, 7), labels, keep)


def test_the_output_head_must_be_the_only_lm_head():
    from torch import nn

    from crabplus.train.loss import output_head

    one = nn.ModuleDict({"model": nn.ModuleDict({"lm_head": nn.Linear(2, 3)})})
    assert output_head(one) is one["model"]["lm_head"]  # found below a wrapper's prefix
    two = nn.ModuleDict({"a": nn.ModuleDict({"lm_head": nn.Linear(2, 3)}), "lm_head": nn.Linear(2, 3)})
    with pytest.raises(ValueError, match="2 lm_head modules, expected exactly one"):
        output_head(two)
    with pytest.raises(ValueError, match="no lm_head"):
        output_head(nn.Linear(2, 2))
