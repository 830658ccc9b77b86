"""The perception-pretrained base shipped in the package: small, documented, made from the corpus only, and
(slow) made again by the command written beside it."""

from __future__ import annotations

import hashlib
import json

import pytest

from crabplus.experiments.base import SHIPPED_BASE, BaseConfig


def test_the_shipped_base_is_small_documented_and_loadable():
    from crabplus.model import load_checkpoint

    weights = SHIPPED_BASE / "model.safetensors"
    assert weights.is_file() and weights.stat().st_size < 12 * 2**20  # 10.8 MB: the 4 x 4 merger is 1.2 M of it
    provenance = json.loads((SHIPPED_BASE / "provenance.json").read_text())
    assert provenance["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert provenance["command"].startswith("python -m crabplus.experiments.base")
    assert provenance["command"] in (SHIPPED_BASE / "PROVENANCE.md").read_text()
    cfg = provenance["config"]
    assert cfg["train"]["stage"] == "base" and cfg["model"]["adapter"] == "none" and cfg["seed"] == 0
    model, _, model_cfg = load_checkpoint(SHIPPED_BASE)
    assert model_cfg.preset == "tiny" and model_cfg.adapter == "none"
    assert sum(p.numel() for p in model.parameters()) < 3_000_000


def test_base_config_refuses_a_start_without_a_refinement_stage():
    from crabplus.config.core import ConfigError, apply_overrides

    with pytest.raises(ConfigError, match="start_from"):
        apply_overrides(BaseConfig(), ["refine=null", "start_from=runs/base/chosen_stage1"])
    with pytest.raises(ConfigError, match="refine_clips_scale"):
        apply_overrides(BaseConfig(), ["refine_clips_scale=0"])
    with pytest.raises(ConfigError, match="refine_focus must be one of \\['halves', 'seen'\\], got 'pairs'"):
        apply_overrides(BaseConfig(), ["refine_focus=pairs"])


def test_the_halves_focus_writes_order_questions_and_takes_them_and_matching_again(tmp_path):
    """Stage 2's ``halves`` focus: the matching layouts ask each joined half (``order``), and the ``again`` file
    holds those questions and the matching ones REFINE_AGAIN times over, beside the seen attributes'."""
    from crabplus.experiments.base import AGAIN_DIR, REFINE_AGAIN, REFINE_FOCUS, make_corpus
    from crabplus.schema.records import load_records
    from crabplus.synth import SynthConfig

    cfg = BaseConfig(synth=SynthConfig(per_dataset=4, image_size=56, workers=0), corpus_scale=0.001)
    focus = REFINE_FOCUS["halves"]
    corpus = make_corpus(cfg, tmp_path, folder="more", refine=focus)
    asked = [
        (r.meta.get("probe") or {}).get("attribute")
        for f in sorted(corpus.glob("pt_*/train.jsonl"))
        for r in load_records(f)
    ]
    again = [r.meta["probe"]["attribute"] for r in load_records(corpus / AGAIN_DIR / "train.jsonl")]
    assert asked.count("order") == 2 * (2 + 2)  # both halves of the 2 pair and the 2 track clips
    for attribute in ("order", "matching", "colour"):
        assert again.count(attribute) == REFINE_AGAIN * asked.count(attribute) > 0, attribute
    assert set(again) <= focus.again and "mood" not in again
    # the same settings again: the stamped corpus is reused, not rewritten
    assert make_corpus(cfg, tmp_path, folder="more", refine=focus) == corpus


def test_after_names_the_runs_before_a_shipped_refinement_and_needs_start_from_and_ship(capsys):
    from crabplus.experiments.base import main

    with pytest.raises(SystemExit) as exit_:
        main(["--out", "runs/x", "--after", "python -m crabplus.experiments.base --out runs/y"])
    assert exit_.value.code == 2 and "--after" in capsys.readouterr().err
    provenance = json.loads((SHIPPED_BASE / "provenance.json").read_text())
    if provenance.get("runs"):  # a base made in several runs lists every command, the first one from nothing
        assert provenance["runs"][0] == provenance["command"] and provenance["runs"][-1] == provenance["run"]
        assert all(run in (SHIPPED_BASE / "PROVENANCE.md").read_text() for run in provenance["runs"])


@pytest.mark.slow
def test_regenerate_shipped_base(tmp_path):
    """Runs the shipped command again (corpus, the towers, the alignment stage, the refinement and the choice of
    each checkpoint: an hour or more on one CPU thread), or the shipped runs in order when it was made in several,
    and compares bytes."""
    from crabplus.experiments.base import main

    provenance = json.loads((SHIPPED_BASE / "provenance.json").read_text())
    assert BaseConfig(**{}).seed == provenance["config"]["seed"]
    outs: dict[str, str] = {}  # each run's --out -> its folder here, for the start_from of the runs after it
    for command in provenance.get("runs") or [provenance["command"]]:
        args = command.split()[3:]  # after "python -m crabplus.experiments.base"
        at = args.index("--out") + 1
        outs[args[at]] = str(tmp_path / f"run{len(outs)}")
        args[at] = outs[args[at]]
        for i, arg in enumerate(args):
            if arg.startswith("start_from="):
                folder, _, rest = arg.removeprefix("start_from=").partition("/chosen")
                args[i] = f"start_from={outs[folder]}/chosen{rest}"
        assert main(args) == 0
    made = (tmp_path / f"run{len(outs) - 1}" / "chosen" / "model.safetensors").read_bytes()
    assert hashlib.sha256(made).hexdigest() == provenance["sha256"]


def test_the_shipped_base_predicts_at_the_frame_size_it_was_trained_on():
    """Its run config travels with it (without any path of the machine that made it), so a prediction with the
    base alone sees frames as it was trained: 56 px, not the 224-px default."""
    from crabplus.infer.predictor import Predictor, trained_image_size

    provenance = json.loads((SHIPPED_BASE / "provenance.json").read_text())
    trained = provenance["config"]["data"]["image_size"]
    assert trained_image_size(SHIPPED_BASE) == trained == 56
    assert Predictor.from_checkpoint(SHIPPED_BASE).processor.image_size == trained
    text = (SHIPPED_BASE / "run_config.yaml").read_text()
    assert "/work/" not in text and "/home/" not in text and "/tmp/" not in text


def test_a_modular_base_refines_only_when_asked_and_then_trains_its_llm(tmp_path):
    """``refine_modular``: a modular base's stage 2 trains the LLM beside the projectors (stage 1 keeps Crab's
    frozen LLM); the unified refinement is unchanged; the switch is refused where it means nothing."""
    from pathlib import Path

    from crabplus.config.core import ConfigError, apply_overrides
    from crabplus.experiments.base import base_run_config, refine_run_config

    modular = apply_overrides(BaseConfig(), ["model.family=modular", "refine_modular=true"])
    assert modular.model.modular.trainable == ["projectors"]  # stage 1: the projectors alone
    run = refine_run_config(modular, tmp_path, base_run_config(modular, tmp_path, tmp_path), ["a.jsonl"], Path("s1"))
    assert run.model.modular.trainable == ["projectors", "llm"] and run.model.checkpoint == "s1"
    assert run.data.train == ["a.jsonl"] and run.train == modular.refine
    unified = BaseConfig()
    run = refine_run_config(unified, tmp_path, base_run_config(unified, tmp_path, tmp_path), ["a.jsonl"], Path("s1"))
    assert run.model == apply_overrides(unified, ["model.checkpoint=s1"]).model
    with pytest.raises(ConfigError, match="refine_modular needs model.family=modular"):
        BaseConfig(refine_modular=True)
    with pytest.raises(ConfigError, match="refine_modular needs model.family=modular and a refine stage"):
        apply_overrides(BaseConfig(), ["model.family=modular", "refine_modular=true", "refine=null"])
