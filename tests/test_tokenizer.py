"""The tiny tokenizer: deterministic, Qwen2.5-Omni special tokens as single ids, the release's chat layout,
and a save/load round trip through ``load_tokenizer``."""

from __future__ import annotations

import json

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from crabplus.data import tokenizer as tokmod
from crabplus.data.tokenizer import build_tiny_tokenizer, load_tokenizer
from crabplus.schema.registry import SYSTEM_PROMPT
from crabplus.schema.tokens import SPECIAL_TOKENS, special_token_ids


@pytest.fixture(scope="module")
def tok():
    return build_tiny_tokenizer()


def test_training_is_deterministic():
    first = json.loads(tokmod._train_tokenizer_json())
    tokmod._train_tokenizer_json.cache_clear()
    second = json.loads(tokmod._train_tokenizer_json())
    assert first["model"]["vocab"] == second["model"]["vocab"]
    assert first["model"]["merges"] == second["model"]["merges"]


def test_vocabulary_and_special_tokens(tok):
    assert 1000 <= len(tok) <= 4096
    ids = special_token_ids(tok)
    assert set(ids) == set(SPECIAL_TOKENS) and len(set(ids.values())) == len(SPECIAL_TOKENS)
    for role, text in SPECIAL_TOKENS.items():
        assert tok(text, add_special_tokens=False)["input_ids"] == [ids[role]]
    assert tok.pad_token == "<|endoftext|>" and tok.pad_token_id == ids["pad"]
    assert tok.eos_token == "<|im_end|>"
    assert tok.video_token_id == ids["video"] and tok.audio_token == "<|AUDIO|>"  # what Qwen's processor reads


def test_byte_level_round_trip_and_qwen_splits(tok):
    for text in ["The sounding object is a red drum. [12,34,56,78] [1,2]", "émotion: 生气 🙂\ttab", "x" * 300]:
        assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text
    pieces = tok.convert_ids_to_tokens(tok("assistant\nThe 2024", add_special_tokens=False)["input_ids"])
    assert "Ċ" in pieces  # the newline is its own token (byte-level "\n"), as with Qwen's pattern
    assert pieces[-5:] == ["Ġ", "2", "0", "2", "4"]  # digits one by one, the space on its own (Qwen's pattern)


def test_chat_template_renders_the_release_layout(tok):
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "This is a video and an audio:"},
                {"type": "video"},
                {"type": "audio"},
                {"type": "text", "text": "Which action?"},
            ],
        },
        {"role": "assistant", "content": "<answer>x</answer>"},
    ]
    expected = (
        f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\nThis is a video and an audio:"
        "<|vision_bos|><|VIDEO|><|vision_eos|><|audio_bos|><|AUDIO|><|audio_eos|>Which action?<|im_end|>\n"
        "<|im_start|>assistant\n<answer>x</answer><|im_end|>\n"
    )
    assert tok.apply_chat_template(messages, tokenize=False) == expected
    prompt = tok.apply_chat_template(messages[:2], tokenize=False, add_generation_prompt=True)
    assert prompt == expected[: expected.index("<answer>")]
    no_system = tok.apply_chat_template(messages[1:2], tokenize=False)
    assert no_system.startswith(f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n")


def test_save_and_load_round_trip(tok, tmp_path):
    tok.save_pretrained(tmp_path / "tok")
    loaded = load_tokenizer(tmp_path / "tok")
    assert isinstance(loaded, PreTrainedTokenizerFast)
    assert loaded.get_vocab() == tok.get_vocab() and special_token_ids(loaded) == special_token_ids(tok)
    assert loaded.chat_template == tok.chat_template
    text = "<|im_start|>user\nHi<|AUDIO|><|im_end|>"
    assert loaded(text)["input_ids"] == tok(text)["input_ids"]


def test_load_errors_name_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_tokenizer(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no tokenizer files"):
        load_tokenizer(tmp_path / "empty")
    plain = Tokenizer(models.BPE())
    plain.pre_tokenizer = pre_tokenizers.ByteLevel()
    other = PreTrainedTokenizerFast(tokenizer_object=plain)
    other.add_special_tokens({"extra_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    with pytest.raises(ValueError, match=r"<\|AUDIO\|>"):
        special_token_ids(other)
    other.save_pretrained(tmp_path / "other")
    with pytest.raises(ValueError, match="lacks the special token"):
        load_tokenizer(tmp_path / "other")
