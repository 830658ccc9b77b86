"""Every shipped run preset loads, says what it is for and how to run it; the DeepSpeed file is usable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crabplus.config.core import ConfigError
from crabplus.train.config import TrainConfig
from crabplus.train.engine import deepspeed_config
from crabplus.train.run_config import load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
# configs/demo*.yaml are `crabplus demo` settings (their own schema, tested with the demo)
RUN_PRESETS = sorted(p for p in CONFIGS.glob("*.yaml") if not p.name.startswith("demo"))


def test_the_run_presets_exist():
    names = {p.stem for p in RUN_PRESETS}
    assert {
        "tiny-base",
        "tiny-ilora",
        "tiny-lora",
        "tiny-single",
        "omni7b-ilora",
        "modular-tiny-base",
        "modular-tiny-ilora",
    } <= names


def test_the_modular_presets_name_their_family_and_what_trains():
    base, tuned = (load_config(CONFIGS / f"modular-tiny-{n}.yaml") for n in ("base", "ilora"))
    assert base.model.family == tuned.model.family == "modular" and base.model.preset == "modular-tiny"
    assert base.train.stage == "base" and base.model.modular.trainable == ["vision", "audio", "projectors", "llm"]
    assert tuned.model.adapter == "ilora" and tuned.model.checkpoint == base.output_dir + "/final"


@pytest.mark.parametrize("path", RUN_PRESETS, ids=lambda p: p.name)
def test_every_run_preset_loads_and_documents_its_command(path):
    cfg = load_config(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    assert header, f"{path.name} must start with a comment saying what it is for"
    assert any("crabplus train --config configs/" + path.name in line for line in header), path.name
    if cfg.train.stage == "base":
        assert cfg.model.adapter == "none"


def test_the_release_recipe_preset_matches_reference_a7():
    cfg = load_config(CONFIGS / "omni7b-ilora.yaml")
    ilora = cfg.model.ilora
    assert (ilora.rank, ilora.alpha, ilora.dropout, ilora.num_experts, ilora.encoders) == (128, 256.0, 0.1, 3, True)
    t = cfg.train
    assert (t.learning_rate, t.epochs, t.lr_scheduler, t.warmup_ratio, t.weight_decay) == (1e-4, 5, "cosine", 0.03, 0)
    assert (t.batch_size, t.grad_accum, t.max_grad_norm, cfg.seed, t.bf16) == (4, 1, 1.0, 42, True)
    assert cfg.model.gradient_checkpointing and cfg.model.preset == "omni-7b"


def test_deepspeed_zero2_file_gets_its_auto_values_from_the_run():
    path = CONFIGS / "deepspeed" / "zero2.json"
    assert json.loads(path.read_text())["zero_optimization"]["stage"] == 2
    cfg = TrainConfig(
        distributed="deepspeed", deepspeed_config=str(path), batch_size=4, grad_accum=2, max_grad_norm=1.0, bf16=True
    )
    filled = deepspeed_config(cfg, world_size=8)
    assert filled["train_micro_batch_size_per_gpu"] == 4 and filled["gradient_accumulation_steps"] == 2
    assert filled["train_batch_size"] == 64 and filled["gradient_clipping"] == 1.0
    assert filled["bf16"]["enabled"] is True
    assert "auto" not in json.dumps(filled)
    with pytest.raises(ConfigError, match="deepspeed_config"):
        TrainConfig(distributed="deepspeed")


@pytest.mark.integration
def test_tiny_ilora_trains_on_the_shipped_base_in_a_fresh_clone(small_avsynth, tmp_path, monkeypatch):
    """configs/tiny-ilora.yaml names ``model.checkpoint: shipped``: it runs with no base trained first (it named
    runs/tiny-base/final, which a new user does not have), and its adapter-only save names the shipped base
    by that name, so it loads wherever the package is installed."""
    from crabplus.cli.main import main
    from crabplus.infer import Predictor
    from crabplus.model.config import SHIPPED

    monkeypatch.chdir(tmp_path)  # a fresh clone: the data synthesized, nothing trained
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "avsynth").symlink_to(small_avsynth)
    assert not (tmp_path / "runs").exists()
    assert (
        main(
            [
                "train",
                "--config",
                str(CONFIGS / "tiny-ilora.yaml"),
                "train.max_steps=1",
                "train.batch_size=2",
                "train.save_steps=1",
                "data.cache_dir=null",
            ]
        )
        == 0
    )
    final = tmp_path / "runs" / "tiny-ilora" / "final"
    meta = json.loads((final / "crabplus_model.json").read_text())
    assert meta["base"] == SHIPPED and not (final / "model.safetensors").exists()  # adapter only
    assert json.loads((final / "preprocessor_config.json").read_text())["processor_class"] == "Qwen2_5OmniProcessor"
    assert Predictor.from_checkpoint(final).model_cfg.adapter == "ilora"
