"""Strict configuration: overrides by dotted key, errors that name the key, every shipped YAML loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crabplus.config import ConfigError, apply_overrides, save_config, to_dict
from crabplus.train.run_config import RunConfig, load_config

REPO = Path(__file__).resolve().parents[1]


def test_defaults_and_dotted_override():
    cfg = load_config(None, ["model.ilora.num_experts=4", "train.learning_rate=3e-4", "data.skip_bad=true"])
    assert cfg.model.ilora.num_experts == 4
    assert cfg.train.learning_rate == pytest.approx(3e-4)
    assert cfg.data.skip_bad is True
    # the default is untouched
    assert RunConfig().model.ilora.num_experts == 3


def test_override_list_and_null_values():
    cfg = load_config(None, ["model.ilora.target_modules=[q_proj, v_proj]", "model.ilora.top_k=null"])
    assert cfg.model.ilora.target_modules == ["q_proj", "v_proj"]
    assert cfg.model.ilora.top_k is None


def test_int_is_accepted_for_float_but_not_the_reverse():
    cfg = load_config(None, ["model.ilora.alpha=16"])
    assert cfg.model.ilora.alpha == 16.0 and isinstance(cfg.model.ilora.alpha, float)
    with pytest.raises(ConfigError, match=r"model\.ilora\.rank: expected an integer"):
        load_config(None, ["model.ilora.rank=1.5"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.ilora.num_expert=4", r"unknown key model\.ilora\.num_expert"),
        ("modle.preset=tiny", r"unknown key modle"),
        ("model.ilora.num_experts=many", r"model\.ilora\.num_experts: expected an integer"),
        ("data.skip_bad=maybe", r"data\.skip_bad: expected true/false"),
        ("model.adapter=dora", r"model\.adapter: expected one of"),
        ("model.preset=huge", r"model\.preset"),
        ("train.max_steps", r"expected KEY=VALUE"),
        ("model.ilora.top_k=7", r"ilora\.top_k"),
    ],
)
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_unknown_key_in_yaml_is_an_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  preset: tiny\n  ilora:\n    rnak: 8\n")
    with pytest.raises(ConfigError, match=r"unknown key model\.ilora\.rnak"):
        if path.name.startswith("demo"):
            from crabplus.experiments.config import load_demo_config

            load_demo_config(path)
        else:
            load_config(path)


def test_wrong_type_in_yaml_names_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  batch_size: four\n")
    with pytest.raises(ConfigError, match=r"train\.batch_size: expected an integer"):
        if path.name.startswith("demo"):
            from crabplus.experiments.config import load_demo_config

            load_demo_config(path)
        else:
            load_config(path)


def test_saved_config_round_trips(tmp_path):
    cfg = load_config(None, ["name=x", "model.ilora.rank=8", "data.datasets=[ks, ave]"])
    path = save_config(cfg, tmp_path / "config.yaml")
    again = load_config(path)
    assert to_dict(again) == to_dict(cfg)
    assert yaml.safe_load(path.read_text())["model"]["ilora"]["rank"] == 8


def test_apply_overrides_returns_a_copy():
    cfg = RunConfig()
    new = apply_overrides(cfg, ["seed=7"])
    assert new.seed == 7 and cfg.seed == 42


def test_every_shipped_config_loads():
    files = sorted((REPO / "configs").glob("**/*.yaml"))
    assert any(p.name == "demo.yaml" for p in files), "configs/demo.yaml (the main job's settings) must ship"
    for path in files:
        first = path.read_text().splitlines()[0]
        assert first.startswith("#"), f"{path.name} must start with a comment saying what it is for"
        assert "crabplus" in path.read_text().split("\n\n")[0], f"{path.name}: the header must give the command"
        if path.name.startswith("demo"):
            from crabplus.experiments.config import load_demo_config

            load_demo_config(path)
        else:
            load_config(path)
