"""The training loss: the thinker's own causal-LM loss, counted on the answer span only."""

from __future__ import annotations

import pytest
import torch

from crabplus.data.collate import collate
from crabplus.data.tokenizer import build_tiny_tokenizer, special_token_ids
from crabplus.model import build_thinker
from crabplus.model.config import ModelConfig
from crabplus.model.dummy import dummy_sample
from crabplus.train.loss import IGNORE_INDEX, supervised_tokens, token_losses


@pytest.fixture(scope="module")
def tiny():
    tok = build_tiny_tokenizer()
    torch.manual_seed(0)
    return tok, build_thinker(ModelConfig(preset="tiny", adapter="none"), tok)


def test_per_sample_sums_give_the_thinkers_own_loss(tiny):
    tok, model = tiny
    ids = special_token_ids(tok)
    gen = torch.Generator().manual_seed(0)
    samples = [dummy_sample(model.config, [500, 600, 700][:n], [800, 900, 1000, 1100][: n + 1],
                            im_start=ids["im_start"], generator=gen) for n in (1, 3)]
    batch = collate(samples, ids["pad"], "right")
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
    from crabplus.data.records import load_records
    from crabplus.synth import SynthConfig, generate

    tok, model = tiny
    generate(tmp_path, SynthConfig(per_dataset=2, datasets=["cremad"]))
    record = load_records(tmp_path / "cremad" / "train.jsonl")[0]
    sample = CrabProcessor(tok, model.config, image_size=56).encode(record, tmp_path, with_target=True)
    labels = sample["labels"][None]  # [1, L]
    span = labels[0] != IGNORE_INDEX
    assert tok.decode(sample["input_ids"][span]) == "\n" + record.target + "<|im_end|>"
    assert not span[: int(span.nonzero()[0])].any()  # nothing of the prompt (system, media, instruction)

    logits = model(input_ids=sample["input_ids"][None], attention_mask=sample["attention_mask"][None],
                   **{k: sample[k] for k in ("pixel_values_videos", "video_grid_thw", "video_second_per_grid",
                                             "input_features", "feature_attention_mask")}).logits
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
