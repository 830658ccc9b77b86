"""The tiny model with I-LoRA trains on real processed samples (MP4 + AAC written here, read by the media
pipeline's processor and collator) and its loss falls; the balance loss is part of it."""

from __future__ import annotations

import pytest
import torch
from helpers.media import write_clip
from helpers.model import tiny_model_config, tiny_tokenizer

from crabplus.adapters import ILoRAConfig, RoutingRecorder, balance_loss, trainable_parameters
from crabplus.data.collate import collate
from crabplus.data.processor import CrabProcessor
from crabplus.model import attach_adapter, build_thinker
from crabplus.model.generate import generate
from crabplus.schema.records import Answer, Media, Record
from crabplus.schema.registry import get_spec
from crabplus.schema.tokens import special_token_ids
from crabplus.tasks.formats import render_answer, render_target

pytestmark = pytest.mark.integration  # trains the tiny model until its loss falls


def records(tmp_path) -> list[Record]:
    out = []
    for i, (label, freq) in enumerate([("happy", 330.0), ("angry", 880.0)]):
        write_clip(tmp_path / f"clip{i}.mp4", seconds=2.0, fps=4, width=64, height=48, freq=freq)
        answer = Answer(label=label)
        out.append(
            Record(
                id=f"cremad-{i}",
                dataset="cremad",
                task="emotion",
                split="train",
                media=Media(video=f"clip{i}.mp4"),
                instruction=get_spec("cremad").instruction,
                answer=answer,
                target=render_target("The voice is loud.", render_answer("cremad", answer)),
            )
        )
    return out


def test_tiny_ilora_trains_on_processed_samples_and_loss_falls(tmp_path):
    tok = tiny_tokenizer()
    cfg = tiny_model_config(ilora=ILoRAConfig(rank=8, alpha=16.0, num_experts=3, balance_loss_weight=0.01))
    torch.manual_seed(0)
    model = attach_adapter(build_thinker(cfg, tok), cfg)
    processor = CrabProcessor(tok, model.config, image_size=56)
    recs = records(tmp_path)
    pad = special_token_ids(tok)["pad"]
    batch = collate([processor.encode(r, tmp_path, with_target=True) for r in recs], pad)
    assert batch["pixel_values_videos"].shape[0] == 2 * 2 * 8 * 8  # two 4-frame 56-px videos in 7-px patches
    inputs = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}

    optimizer = torch.optim.AdamW([p for _, p in trainable_parameters(model)], lr=1e-2)
    model.train()
    losses = []
    for _ in range(20):
        out = model(**inputs)
        aux = balance_loss(model)
        assert aux > 0
        (out.loss + aux).backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(out.loss.item())
    assert sum(losses[-3:]) / 3 < 0.7 * losses[0], losses

    model.eval()
    prompts = collate([processor.encode(r, tmp_path, with_target=False) for r in recs], pad, padding_side="left")
    with RoutingRecorder(model) as rec:
        texts = generate(model, tok, prompts, max_new_tokens=4)
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    per_sample = rec.summary()  # prompt + generated tokens of each row
    assert len(per_sample) == 2 and all(abs(sum(w) - 1) < 1e-5 for w in per_sample[0].values())
