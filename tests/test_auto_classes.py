"""A saved checkpoint speaks transformers' language: in a fresh process that never imports crabplus, the Auto
model class transformers maps the thinker to (``AutoModelForImageTextToText``, named by ``architectures`` in
``config.json``) loads it and gives the logits of crabplus's own loader; ``AutoImageProcessor`` and
``AutoFeatureExtractor`` give our processor's pixel patches and log-mel features; ``AutoProcessor`` goes for
the full Qwen2.5-Omni processor (which needs torchvision for its video part; where it is missing, that is the
one thing it reports)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from helpers.media import sine, write_clip
from safetensors.torch import load_file, save_file

from crabplus.data.audio_features import whisper_log_mel
from crabplus.data.collate import collate
from crabplus.data.hf_files import write_processor_files
from crabplus.data.processor import CrabProcessor
from crabplus.data.vision import vision_input
from crabplus.infer.single import build_record
from crabplus.model import build_thinker, load_checkpoint, save_checkpoint
from crabplus.schema.tokens import special_token_ids

pytestmark = pytest.mark.integration  # a second Python process loads transformers and the model

FRESH = textwrap.dedent("""
    import json, sys
    import numpy as np, torch
    from safetensors.torch import load_file, save_file
    from transformers import (AutoFeatureExtractor, AutoImageProcessor, AutoModelForImageTextToText,
                              AutoProcessor, AutoTokenizer)

    ckpt, work = sys.argv[1], sys.argv[2]
    model = AutoModelForImageTextToText.from_pretrained(ckpt, local_files_only=True, dtype=torch.float32).eval()
    AutoTokenizer.from_pretrained(ckpt, local_files_only=True)
    batch = load_file(f"{work}/batch.safetensors")
    with torch.no_grad():
        logits = model(**batch).logits
    image = np.load(f"{work}/image.npy")
    audio = np.load(f"{work}/audio.npy")
    pixels = AutoImageProcessor.from_pretrained(ckpt, local_files_only=True)(images=[image], return_tensors="pt")
    feats = AutoFeatureExtractor.from_pretrained(ckpt, local_files_only=True)(
        audio, sampling_rate=16000, return_attention_mask=True, return_tensors="pt")
    try:
        processor = type(AutoProcessor.from_pretrained(ckpt, local_files_only=True)).__name__
    except ImportError as exc:
        processor = "ImportError: " + " ".join(str(exc).split())
    out = {"logits": logits, "pixel_values": pixels["pixel_values"], "image_grid_thw": pixels["image_grid_thw"],
           "input_features": feats["input_features"], "attention_mask": feats["attention_mask"]}
    save_file({k: v.contiguous() for k, v in out.items()}, f"{work}/out.safetensors")
    json.dump({"model": type(model).__name__, "processor": processor,
               "crabplus_imported": "crabplus" in sys.modules}, open(f"{work}/out.json", "w"))
""")


def test_a_saved_checkpoint_loads_with_transformers_auto_classes_in_a_fresh_process(tmp_path):
    from helpers.model import tiny_model_config, tiny_tokenizer

    tok, cfg = tiny_tokenizer(), tiny_model_config(adapter="none")
    torch.manual_seed(0)
    ckpt = tmp_path / "model"
    save_checkpoint(ckpt, build_thinker(cfg, tok), tok, cfg)
    model, tok, _ = load_checkpoint(ckpt)
    processor = CrabProcessor(tok, model.config, image_size=56)
    write_processor_files(ckpt, processor)
    assert json.loads((ckpt / "config.json").read_text())["architectures"] == [
        "Qwen2_5OmniThinkerForConditionalGeneration"
    ]

    clip = write_clip(tmp_path / "c.mp4", seconds=1.0, width=32, height=32)
    record, root = build_record("ks", clip)
    sample = processor.encode(record, root, with_target=False)
    batch = collate([sample], special_token_ids(tok)["pad"], padding_side="left")
    inputs = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor) and k != "labels"}
    with torch.no_grad():
        ours = model.eval()(**inputs).logits  # [1, L, vocab]
    work = tmp_path / "work"
    work.mkdir()
    save_file({k: v.contiguous() for k, v in inputs.items()}, str(work / "batch.safetensors"))
    image = np.random.default_rng(0).integers(0, 256, (56, 56, 3), dtype=np.uint8)
    audio = sine(1.3, 16000)[0]
    np.save(work / "image.npy", image)
    np.save(work / "audio.npy", audio)

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", FRESH, str(ckpt), str(work)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    facts, out = json.loads((work / "out.json").read_text()), load_file(str(work / "out.safetensors"))
    assert facts["model"] == "Qwen2_5OmniThinkerForConditionalGeneration" and not facts["crabplus_imported"]
    assert torch.equal(out["logits"], ours)
    patches, grid = vision_input(image[None], processor.geometry)
    assert torch.equal(out["pixel_values"], patches) and torch.equal(out["image_grid_thw"], grid)
    valid = int(out["attention_mask"][0].sum())
    mel = whisper_log_mel(audio, processor.n_mels, processor.mel_hop)
    assert mel.shape[1] == valid
    np.testing.assert_allclose(out["input_features"][0][:, :valid].numpy(), mel, atol=1e-4, rtol=0)
    try:
        import torchvision  # noqa: F401
    except ImportError:  # the full processor was asked for; only its video part cannot load here
        assert facts["processor"].startswith("ImportError") and "Qwen2VLVideoProcessor" in facts["processor"]
    else:
        assert facts["processor"] == "Qwen2_5OmniProcessor"
