"""The parts a modular base starts from: the unified thinker's LLM as a plain causal LM, and the stage-0 towers
written as CLIP and Whisper checkpoints that the modular builder loads back exactly."""

from __future__ import annotations

import json

import pytest
import torch

from crabplus.config.core import apply_overrides
from crabplus.experiments.base import SHIPPED_BASE
from crabplus.model.build import CheckpointError
from crabplus.model.config import ModelConfig
from crabplus.model.modular.parts import export_towers, export_unified_llm, unified_llm
from crabplus.train.recipe import build_model

PROMPT = "<|im_start|>user\nWhat colour is the circle that sounds?<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def shipped():
    tokenizer, thinker = build_model(ModelConfig(checkpoint=str(SHIPPED_BASE), adapter="none"))
    return tokenizer, thinker.eval()


@torch.no_grad()
def test_the_unified_llm_as_qwen2_gives_the_thinkers_logits_on_text(shipped):
    tokenizer, thinker = shipped
    ids = torch.tensor([tokenizer.encode(PROMPT)])
    llm = unified_llm(SHIPPED_BASE)
    assert llm.config.model_type == "qwen2" and llm.config.rope_parameters["rope_theta"] == 1e6
    want = thinker(input_ids=ids, attention_mask=torch.ones_like(ids)).logits  # [1, L, V]
    assert torch.allclose(llm(input_ids=ids).logits, want, atol=1e-5)


def test_a_folder_without_a_thinker_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    with pytest.raises(CheckpointError, match="qwen2_5_omni_thinker"):
        unified_llm(tmp_path)


@torch.no_grad()
def test_exported_parts_load_back_as_released_parts_with_the_llm_exact(tmp_path, shipped):
    tokenizer, thinker = shipped
    torch.manual_seed(0)
    _, trained = build_model(ModelConfig(family="modular", adapter="none"))
    vision, audio = export_towers(trained, tmp_path)
    llm = export_unified_llm(SHIPPED_BASE, tmp_path / "llm")
    cfg = apply_overrides(
        ModelConfig(family="modular", adapter="none"),
        [f"modular.vision={vision}", f"modular.audio={audio}", f"modular.llm={llm}"],
    )
    parts_tokenizer, model = build_model(cfg)
    assert parts_tokenizer.get_vocab() == tokenizer.get_vocab()
    for name in ("visual", "audio_tower"):
        want = getattr(trained, name).state_dict()
        assert all(torch.equal(v, want[k]) for k, v in getattr(model, name).state_dict().items()), name
    # the LLM computes what the thinker's does (the composed config once reset its attention implementation)
    ids = torch.tensor([tokenizer.encode(PROMPT)])
    want = thinker(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    assert torch.allclose(model.language_model(input_ids=ids).logits, want, atol=1e-5)
    trains = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trains == {"vision_projector", "audio_projector"}  # the default: the projectors alone
