"""save_checkpoint / load_checkpoint: full tiny weights (base stage), adapter-only saves that name their
base, PEFT LoRA; bit-exact round trips, other files in the directory left alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers.model import batch_of, randomize_adapters, tiny_model_config, tiny_tokenizer

from crabplus.adapters import adapter_state_dict, trainable_parameters
from crabplus.model import CheckpointError, attach_adapter, build_thinker, load_checkpoint, save_checkpoint
from crabplus.model.checkpoint import base_state_dict


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


def same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def logits(model, tok):
    batch = batch_of(model, tok, [("the dog plays", "drum", 4, 100), ("a cat", "no", 2, 60)])
    with torch.no_grad():
        return model.eval()(**batch).logits


def test_base_stage_saves_full_weights_and_reloads_them(tok, tmp_path):
    cfg = tiny_model_config(adapter="none")
    torch.manual_seed(0)
    model = build_thinker(cfg, tok)
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "train_state.json").write_text("{}")  # the trainer's own files stay
    save_checkpoint(tmp_path / "ckpt", model, tok, cfg)
    names = {p.name for p in (tmp_path / "ckpt").iterdir()}
    assert {"crabplus_model.json", "config.json", "model.safetensors", "train_state.json"} <= names
    assert "adapter" not in names and not any(n.startswith(".") for n in names)
    loaded, tok2, cfg2 = load_checkpoint(tmp_path / "ckpt")
    assert same_tensors(model.state_dict(), loaded.state_dict())
    assert tok2.get_vocab() == tok.get_vocab()
    assert cfg2.checkpoint == str(tmp_path / "ckpt") and cfg2.adapter == "none"
    assert torch.equal(logits(model, tok), logits(loaded, tok2))


@pytest.mark.parametrize("adapter", ["ilora", "lora"])
def test_adapter_only_save_names_its_base(tok, tmp_path, adapter):
    base_cfg = tiny_model_config(adapter="none")
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "base", build_thinker(base_cfg, tok), tok, base_cfg)
    cfg = tiny_model_config(adapter=adapter, checkpoint=str(tmp_path / "base"))
    model = attach_adapter(build_thinker(cfg, tok), cfg)
    randomize_adapters(model, scale=0.05)
    save_checkpoint(tmp_path / "run", model, tok, cfg)
    meta = json.loads((tmp_path / "run" / "crabplus_model.json").read_text())
    # The base lies beside the run: named relative to it (a moved pair stays loadable), absolute as a second try.
    assert meta["base"] == "../base" and meta["base_path"] == str((tmp_path / "base").resolve())
    assert meta["model"]["adapter"] == adapter
    assert not (tmp_path / "run" / "model.safetensors").exists()  # adapter-only
    loaded, tok2, cfg2 = load_checkpoint(tmp_path / "run")
    assert same_tensors(adapter_state_dict(model), adapter_state_dict(loaded))
    assert same_tensors(base_state_dict(model), base_state_dict(loaded))
    assert all(".lora_" in n for n, _ in trainable_parameters(loaded))
    assert torch.equal(logits(model, tok), logits(loaded, tok2))
    # Saved again from what was loaded, it still names the same base.
    save_checkpoint(tmp_path / "run2", loaded, tok2, cfg2)
    assert json.loads((tmp_path / "run2" / "crabplus_model.json").read_text())["base"] == meta["base"]


def test_moved_run_folder_finds_its_base_or_says_how(tok, tmp_path):
    """A run folder moved with its base loads; moved alone, the error names both places and --base."""
    base_cfg = tiny_model_config(adapter="none")
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "a" / "base", build_thinker(base_cfg, tok), tok, base_cfg)
    cfg = tiny_model_config(checkpoint=str(tmp_path / "a" / "base"))
    model = attach_adapter(build_thinker(cfg, tok), cfg)
    save_checkpoint(tmp_path / "a" / "run" / "final", model, tok, cfg)
    (tmp_path / "a").rename(tmp_path / "b")  # the whole folder moved: the relative name still holds
    loaded, _, cfg2 = load_checkpoint(tmp_path / "b" / "run" / "final")
    assert Path(cfg2.checkpoint).resolve() == (tmp_path / "b" / "base").resolve()
    (tmp_path / "b" / "base").rename(tmp_path / "elsewhere")  # the base moved away from the run
    with pytest.raises(CheckpointError, match="--base") as info:
        load_checkpoint(tmp_path / "b" / "run" / "final")
    assert "../../base" in str(info.value) and str(tmp_path / "a" / "base") in str(info.value)
    loaded, _, cfg3 = load_checkpoint(tmp_path / "b" / "run" / "final", base=tmp_path / "elsewhere")
    assert Path(cfg3.checkpoint) == tmp_path / "elsewhere"


def test_random_base_with_adapter_is_saved_whole(tok, tmp_path):
    cfg = tiny_model_config()  # ilora on a random tiny base: the base cannot be rebuilt, so it is included
    torch.manual_seed(0)
    model = attach_adapter(build_thinker(cfg, tok), cfg)
    randomize_adapters(model, scale=0.05)
    save_checkpoint(tmp_path / "run", model, tok, cfg)
    assert (tmp_path / "run" / "model.safetensors").is_file() and (tmp_path / "run" / "adapter").is_dir()
    loaded, tok2, _ = load_checkpoint(tmp_path / "run")
    assert same_tensors(model.state_dict(), loaded.state_dict())
    with pytest.raises(CheckpointError, match="adapter-only"):
        save_checkpoint(tmp_path / "x", model, tok, cfg, include_base=False)


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="crabplus_model.json"):
        load_checkpoint(tmp_path)
    (tmp_path / "crabplus_model.json").write_text(json.dumps({"format": 1, "model": {"preset": "huge"}}))
    with pytest.raises(CheckpointError, match="model.preset"):
        load_checkpoint(tmp_path)


def test_files_and_folders_get_the_umask_permissions(tok, tmp_path):
    """Not 0600/0700 (mkstemp/mkdtemp's): a teammate in the group can read a saved model."""
    import os

    mask = os.umask(0)
    os.umask(mask)
    base_cfg = tiny_model_config(adapter="none")
    save_checkpoint(tmp_path / "base", build_thinker(base_cfg, tok), tok, base_cfg)
    cfg = tiny_model_config(checkpoint=str(tmp_path / "base"))
    save_checkpoint(tmp_path / "run", attach_adapter(build_thinker(cfg, tok), cfg), tok, cfg)
    for path in (tmp_path / "run").rglob("*"):
        want = (0o777 if path.is_dir() else 0o666) & ~mask
        assert path.stat().st_mode & 0o777 == want, path
