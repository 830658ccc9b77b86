"""A randomly built tiny thinker can tell sounds apart: its audio stem is He-initialised (crabplus.model.init)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from crabplus.data.audio_features import SAMPLE_RATE, whisper_log_mel
from crabplus.data.tokenizer import build_tiny_tokenizer
from crabplus.model import build_thinker
from crabplus.model.config import ModelConfig
from crabplus.model.init import audio_tower, init_audio_stem


def tone(hz: float, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 * np.sin(2 * math.pi * hz * t)).astype(np.float32)


def across_clip_share(model, clips: list[np.ndarray]) -> float:
    """Std of the encoder's output tokens across clips / their overall std (0 = every clip encodes the same)."""
    mels = torch.from_numpy(np.stack([whisper_log_mel(c, 128) for c in clips]))  # (C, 128, F)
    mask = torch.ones(mels.shape[0], mels.shape[2], dtype=torch.long)  # (C, F)
    with torch.no_grad():
        out = model.get_audio_features(mels, feature_attention_mask=mask).pooler_output  # (C * tokens, D)
    out = out.reshape(len(clips), -1, out.shape[-1])  # (C, tokens, D)
    return float((out - out.mean(0, keepdim=True)).std() / out.std())


@pytest.fixture(scope="module")
def clips() -> list[np.ndarray]:
    return [tone(hz) for hz in (220.0, 440.0, 880.0, 1760.0)]


def test_a_random_tiny_thinker_hears_the_difference_between_tones(clips):
    torch.manual_seed(0)
    model = build_thinker(ModelConfig(preset="tiny", adapter="none"), build_tiny_tokenizer())
    he_share = across_clip_share(model, clips)
    # transformers' own init of the stem (normal, std 0.02): the fixed position table drowns the content
    tower = audio_tower(model)
    with torch.no_grad():
        for conv in (tower.conv1, tower.conv2):
            conv.weight.normal_(0.0, 0.02)
            conv.bias.zero_()
    stock_share = across_clip_share(model, clips)
    assert he_share > 0.1
    assert stock_share < 0.03
    assert he_share > 5 * stock_share


def test_init_audio_stem_is_he_normal_with_zero_bias():
    torch.manual_seed(0)
    model = build_thinker(ModelConfig(preset="tiny", adapter="none"), build_tiny_tokenizer())
    init_audio_stem(model, torch.Generator().manual_seed(1))
    tower = audio_tower(model)
    for conv in (tower.conv1, tower.conv2):
        fan_in = conv.in_channels * conv.kernel_size[0]
        assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)
        assert torch.count_nonzero(conv.bias) == 0


def test_a_model_without_an_audio_tower_is_refused():
    with pytest.raises(ValueError, match="no audio_tower"):
        init_audio_stem(torch.nn.Linear(2, 2))
