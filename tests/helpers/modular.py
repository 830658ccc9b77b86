"""Tiny random stand-ins for the modular real presets' parts, written as their libraries write the released ones: a
whole CLIP or SigLIP image-text model, a whole Whisper model (encoder and decoder), and a causal LM (Qwen2 or LLaMA)
with a tokenizer of its own that lacks our placeholders, as the released tokenizers do (a Qwen2.5 one has
``<|im_start|>`` and ``<|endoftext|>`` but no ``<|AUDIO|>``; a LLaMA one none of them)."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    CLIPConfig,
    CLIPModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
    SiglipConfig,
    SiglipModel,
    WhisperConfig,
    WhisperForConditionalGeneration,
)

_TOWER = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
_TEXT = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 99}


def write_vision(path: Path, kind: str, image_size: int) -> Path:
    if kind == "clip":
        config = CLIPConfig(
            vision_config={**_TOWER, "image_size": image_size, "patch_size": 14},
            text_config={**_TEXT, "max_position_embeddings": 16},
            projection_dim=16,
        )
        CLIPModel(config).save_pretrained(path)
    else:
        config = SiglipConfig(
            vision_config={**_TOWER, "image_size": image_size, "patch_size": 14},
            text_config={**_TEXT, "max_position_embeddings": 16},
        )
        SiglipModel(config).save_pretrained(path)
    return path


def write_whisper(path: Path) -> Path:
    """Whisper's 30 s windows as released (1500 positions), at a tiny width."""
    config = WhisperConfig(
        d_model=32,
        encoder_layers=1,
        encoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_layers=1,
        decoder_attention_heads=2,
        decoder_ffn_dim=64,
        num_mel_bins=128,
        vocab_size=99,
        max_source_positions=1500,
        max_target_positions=16,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
    )
    WhisperForConditionalGeneration(config).save_pretrained(path)
    return path


def _tokenizer(specials: list[str], eos: str) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(
        ["This is a video and an audio: what sounds? The dog barks. <answer>x</answer>"] * 4, trainer=trainer
    )
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos)


def write_llm(path: Path, kind: str) -> Path:
    if kind == "qwen2":
        tokenizer = _tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>"], "<|im_end|>")
        config = Qwen2Config(
            **{**_TEXT, "num_hidden_layers": 2, "vocab_size": len(tokenizer) + 8}, num_key_value_heads=1
        )
        model = Qwen2ForCausalLM(config)
    else:
        tokenizer = _tokenizer(["<unk>", "<s>", "</s>"], "</s>")
        config = LlamaConfig(**{**_TEXT, "num_hidden_layers": 2, "vocab_size": len(tokenizer)}, num_key_value_heads=2)
        model = LlamaForCausalLM(config)
    torch.manual_seed(0)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def write_parts(root: Path, vision: str, llm: str, image_size: int = 56) -> dict[str, str]:
    """The three part folders under ``root``: {"vision": ..., "audio": ..., "llm": ...} for model.modular."""
    return {
        "vision": str(write_vision(root / f"{vision}-vision", vision, image_size)),
        "audio": str(write_whisper(root / "whisper")),
        "llm": str(write_llm(root / f"{llm}-llm", llm)),
    }
