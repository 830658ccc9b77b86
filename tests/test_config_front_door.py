"""One front door for configuration: every subcommand resolves its own dataclass from ``--config FILE``,
its flags and ``KEY=VALUE`` overrides through ``crabplus.config``; no key is accepted and then ignored."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import typing
from pathlib import Path

import pytest
import yaml

from crabplus.adapters.config import OfficialConvertConfig, PeftConvertConfig
from crabplus.cli.main import build_parser, main
from crabplus.config.cli import config_from_args, split_overrides
from crabplus.config.core import ConfigError, resolve_config, to_dict
from crabplus.data.config import ImportConfig
from crabplus.evaluate.config import EvalCommandConfig, EvalConfig, TransferConfig
from crabplus.experiments.config import DemoConfig
from crabplus.infer.config import PredictConfig
from crabplus.lmms.config import LmmsTasksConfig
from crabplus.synth.config import SynthCommandConfig
from crabplus.train.run_config import RunConfig
from crabplus.web.config import ServeConfig

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "crabplus"
FIX = Path(__file__).resolve().parent / "fixtures" / "eval"


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_yaml_resolves_through_the_command_line(path):
    """Each shipped YAML is read by the command its header names, exactly as that command reads it."""
    command, cls = ("demo", DemoConfig) if path.name.startswith("demo") else ("train", RunConfig)
    assert f"crabplus {command} --config configs/{path.name}" in path.read_text(encoding="utf-8")
    cfg = config_from_args(cls, _args(command, "--config", str(path)))
    assert to_dict(cfg) == to_dict(resolve_config(cls, path))
    again = resolve_config(cls, path, ["seed=5"])
    assert again.seed == 5 and {**to_dict(again), "seed": cfg.seed} == to_dict(cfg)


def test_the_demo_yaml_spells_out_the_built_in_defaults():
    """configs/demo.yaml says it holds `crabplus demo`'s built-in settings: it must resolve to exactly them,
    so the demo runs the same whether or not it is given."""
    assert to_dict(resolve_config(DemoConfig, REPO / "configs" / "demo.yaml")) == to_dict(DemoConfig())


@pytest.mark.parametrize(
    "text, key",
    [
        ("synth:\n  per_dataset: 4\n", "synth"),
        ("eval:\n  max_new_tokens: 8\n", "eval"),
        ("data:\n  eval: [data/avsynth]\n", "data.eval"),
        ("data:\n  max_eval_per_dataset: 3\n", "data.max_eval_per_dataset"),
        ("eval:\n  record_routing: false\n", "eval.record_routing"),
    ],
)
def test_keys_that_were_never_read_are_refused_naming_file_and_key(tmp_path, capsys, text, key):
    path = tmp_path / "old.yaml"
    path.write_text(text, encoding="utf-8")
    cls = DemoConfig if key.startswith("eval.") else RunConfig
    with pytest.raises(
        ConfigError,
        match=rf"{path}: unknown key {key.replace('.', '[.]')} .*removed|"
        rf"{path}: unknown key {key.replace('.', '[.]')} ",
    ):
        resolve_config(cls, path)
    command = "demo" if cls is DemoConfig else "train"
    assert main([command, "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and f"unknown key {key}" in err[0]


def test_a_flag_is_the_same_setting_as_its_key():
    flags = config_from_args(
        EvalCommandConfig,
        _args(
            "eval",
            "--predictions",
            "p.jsonl",
            "--data",
            "a",
            "b",
            "--chance-draws",
            "3",
            "--no-meteor",
            "--segmenter",
            "grabcut",
        ),
    )
    keys = config_from_args(
        EvalCommandConfig, _args("eval", "predictions=p.jsonl", "data=[a, b]", "chance_draws=3", "meteor=false")
    )
    assert to_dict(flags) == to_dict(keys)
    assert (flags.chance_draws, flags.meteor, flags.data) == (3, False, ["a", "b"])
    # the order: the file, then the flags, then KEY=VALUE
    assert config_from_args(EvalCommandConfig, _args("eval", "--seed", "4", "seed=9")).seed == 9
    synth = config_from_args(
        SynthCommandConfig,
        _args("data", "synth", "--out", "x", "--datasets", "ks,ave", "--split-ratio", "0.5", "--preset", "tiny"),
        defaults=SynthCommandConfig(per_dataset=4),
    )
    assert (synth.datasets, synth.test_fraction, synth.out, synth.per_dataset) == (["ks", "ave"], 0.5, "x", 4)
    demo = config_from_args(DemoConfig, _args("demo", "--out", "runs/x", "--full", "--seeds", "0,1"))
    assert (demo.output_dir, demo.full, demo.study_seeds) == ("runs/x", True, [0, 1])


def test_predict_takes_overrides_among_its_inputs(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    from crabplus.config.cli import split_overrides

    args = _args("predict", str(video), "max_new_tokens=7", "--checkpoint", "ck", "--question", "yes")
    inputs, overrides = split_overrides(args.inputs)
    cfg = config_from_args(PredictConfig, args, overrides=overrides, values={"inputs": inputs})
    assert (cfg.inputs, cfg.max_new_tokens, cfg.checkpoint, cfg.question) == ([str(video)], 7, "ck", "yes")


def test_errors_are_one_line_and_exit_2(tmp_path, capsys):
    path = tmp_path / "eval.yaml"
    path.write_text("chance_draws: many\n", encoding="utf-8")
    for argv, words in [
        (["eval", "--config", str(path)], [str(path), "chance_draws: expected an integer"]),
        (["eval", "--predictions", "p", "--data", "d", "frames_per_batch=0"], ["frames_per_batch must be >= 1"]),
        (["eval", "--config", str(tmp_path / "missing.yaml")], ["config file not found"]),
        (["data", "synth", "--per-dataset", "1", "--out", str(tmp_path / "s")], ["per_dataset must be >= 2"]),
        (["data", "synth", "per_datset=3", "--out", str(tmp_path / "s")], ["unknown key per_datset"]),
        (["predict", "v.mp4", "--checkpoint", "ck", "--max-new-tokens", "0"], ["max_new_tokens 0"]),
        (["predict", "v.mp4"], ["needs --checkpoint"]),
        (["train", "model.ilora.rnak=3"], ["unknown key model.ilora.rnak"]),
    ]:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and all(w in err[0] for w in words), (argv, err)


def test_eval_writes_its_resolved_config_beside_the_report(tmp_path):
    path = tmp_path / "eval.yaml"
    path.write_text(
        f"predictions: {FIX / 'predictions.jsonl'}\ndata: [{FIX / 'records.jsonl'}]\nmeteor: false\n"
        "chance_draws: 2\nmask_chance_draws: 1\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["eval", "--config", str(path), "--out", str(out), "seed=3"]) == 0
    saved = yaml.safe_load((out / "resolved_config.yaml").read_text(encoding="utf-8"))
    assert (saved["chance_draws"], saved["seed"], saved["meteor"], saved["out"]) == (2, 3, False, str(out))
    assert resolve_config(EvalCommandConfig, out / "resolved_config.yaml").chance_draws == 2
    report = yaml.safe_load((out / "report.json").read_text(encoding="utf-8"))
    assert report["config"]["chance_draws"] == 2 and report["config"]["seed"] == 3


def test_synth_writes_its_resolved_config_and_reads_a_yaml(tmp_path):
    path = tmp_path / "synth.yaml"
    path.write_text("per_dataset: 2\ndatasets: [ks]\nseed: 5\n", encoding="utf-8")
    out = tmp_path / "data"
    assert main(["data", "synth", "--config", str(path), "--out", str(out), "--quiet", "--preset", "tiny"]) == 0
    saved = yaml.safe_load((out / "resolved_config.yaml").read_text(encoding="utf-8"))
    assert (saved["per_dataset"], saved["datasets"], saved["seed"], saved["out"]) == (2, ["ks"], 5, str(out))
    manifest = yaml.safe_load((out / "manifest.json").read_text(encoding="utf-8"))
    assert "out" not in manifest["config"] and manifest["config"]["per_dataset"] == 2


# --- every configuration field is read somewhere ---------------------------------------------------------------


def _dataclasses_of(cls: type, seen: list[type]) -> list[type]:
    """``cls`` and every dataclass nested in its fields (ModelConfig -> ILoRAConfig, ...)."""
    if cls not in seen:
        seen.append(cls)
        for tp in typing.get_type_hints(cls).values():
            if dataclasses.is_dataclass(tp):
                _dataclasses_of(tp, seen)
    return seen


_CONFIGS = (
    RunConfig,
    DemoConfig,
    EvalConfig,
    EvalCommandConfig,
    SynthCommandConfig,
    PredictConfig,
    ImportConfig,
    TransferConfig,
    LmmsTasksConfig,
    ServeConfig,
    OfficialConvertConfig,
    PeftConvertConfig,
)


class _Reads(ast.NodeVisitor):
    """Attribute names read anywhere (``x.name``, ``getattr(x, "name")``), outside ``__post_init__``: a
    field only its own validation looks at is a key accepted and ignored."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.name != "__post_init__":
            self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, ast.Load):
            self.names.add(node.attr)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if (
            isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            self.names.add(node.args[1].value)
        self.generic_visit(node)


def test_every_config_field_is_read_by_some_code():
    """By name only (the source has no types to follow): a field passes when code anywhere reads an attribute of
    its name, so this catches a name nothing reads (it caught the demo's ``eval.record_routing``) but not a
    field shadowed by a namesake (``data.eval`` beside ``cfg.eval``); those are refused by name above."""
    reads = _Reads()
    for path in sorted(SRC.rglob("*.py")):
        reads.visit(ast.parse(path.read_text(encoding="utf-8")))
    classes: list[type] = []
    for cls in _CONFIGS:
        _dataclasses_of(cls, classes)
    unread = sorted(
        f"{cls.__name__}.{f.name}" for cls in classes for f in dataclasses.fields(cls) if f.name not in reads.names
    )
    assert not unread, f"configuration fields no code reads (accepted and ignored): {unread}"


@pytest.mark.parametrize(
    "override",
    [
        "data.root=x",
        "data.train=[x]",
        "model.checkpoint=x",
        "model.adapter=lora",
        "model.lora.rank=4",
        "model.lora.alpha=8",
    ],
)
def test_the_demo_refuses_keys_it_sets_itself(override):
    with pytest.raises(ConfigError, match=override.split("=")[0].replace(".", "[.]") + " is set by the demo"):
        resolve_config(DemoConfig, None, [override])
    assert main(["demo", override]) == 2  # one line, before anything runs


def _leaves(node, prefix=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}{key}.")
    else:
        yield prefix[:-1]


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_no_shipped_yaml_holds_a_key_its_command_does_not_read(path):
    """Every key of a shipped YAML is a field that code reads (by name, as below) and none is one the demo sets
    itself; with each of those the demo would refuse the file."""
    from crabplus.experiments.config import SET_BY_THE_DEMO

    reads = _Reads()
    for source in sorted(SRC.rglob("*.py")):
        reads.visit(ast.parse(source.read_text(encoding="utf-8")))
    keys = list(_leaves(yaml.safe_load(path.read_text(encoding="utf-8"))))
    assert keys and all(k.rsplit(".", 1)[-1] in reads.names for k in keys)
    if path.name.startswith("demo"):
        assert not set(keys) & set(SET_BY_THE_DEMO)


def test_the_study_honours_the_ilora_scale_and_the_lora_settings_it_does_not_set():
    """What the demo accepts in model.ilora / model.lora reaches the models the study trains."""
    from crabplus.experiments.study import _method_model

    cfg = resolve_config(DemoConfig, REPO / "configs" / "demo.yaml", ["model.ilora.alpha=40", "model.lora.dropout=0.2"])
    ilora = _method_model(cfg.model, "ilora", 4, 9).ilora
    lora = _method_model(cfg.model, "lora", 4, 9).lora
    same_rank = _method_model(cfg.model, "lora_same_rank", 4, 9).lora
    scale = 40 / cfg.model.ilora.rank
    assert (ilora.rank, ilora.alpha) == (4, scale * 4)
    assert (lora.rank, lora.alpha, lora.dropout) == (9, scale * 9, 0.2)
    assert (same_rank.rank, same_rank.alpha) == (4, scale * 4)


def test_import_transfer_lmms_tasks_and_serve_take_settings_through_the_front_door(tmp_path):
    args = _args(
        "data",
        "import-avuie",
        "ROOT",
        "--out",
        "o",
        "--music-avqa-json",
        "a.json",
        "--music-avqa-json",
        "b.json",
        "c.json",
        "--tasks",
        "ks,ave",
        "strict=true",
    )
    roots, overrides = split_overrides(args.root)  # as the command does: ROOT, then the overrides after it
    imp = config_from_args(ImportConfig, args, overrides=overrides, values={"root": roots[0]})
    assert (imp.root, imp.out, imp.tasks, imp.strict) == ("ROOT", "o", ["ks", "ave"], True)
    assert imp.music_avqa_json == ["a.json", "b.json", "c.json"]  # the flag repeated adds up
    path = tmp_path / "transfer.yaml"
    path.write_text("single: [a, b]\nmulti: m\n", encoding="utf-8")
    transfer = config_from_args(TransferConfig, _args("transfer", "--config", str(path), "--baseline", "l", "out=x"))
    assert (transfer.single, transfer.multi, transfer.baseline, transfer.out) == (["a", "b"], "m", "l", "x")
    lmms = config_from_args(
        LmmsTasksConfig,
        _args("lmms-tasks", "--data", "r.jsonl", "--out", "t", "--group", "crabplus_avuie", "max_new_tokens=64"),
    )
    assert (lmms.data, lmms.group, lmms.max_new_tokens) == (["r.jsonl"], "crabplus_avuie", 64)
    serve = config_from_args(ServeConfig, _args("serve", "--checkpoint", "c", "port=8000"))
    assert (serve.checkpoint, serve.host, serve.port) == ("c", "127.0.0.1", 8000)
    with pytest.raises(ConfigError, match="port"):
        config_from_args(ServeConfig, _args("serve", "--port", "0"))
    with pytest.raises(ConfigError, match="unknown key"):
        config_from_args(TransferConfig, _args("transfer", "--multi", "m", "singles=[a]"))
    flags = _args("convert", "official-ilora", "w.bin", "out", "--alpha", "8", "--layout", "peft")
    keys = _args("convert", "official-ilora", "w.bin", "out", "alpha=8", "layout=peft")
    resolved = [
        config_from_args(
            OfficialConvertConfig, a, overrides=split_overrides(a.paths)[1], values={"source": "w.bin", "out": "out"}
        )
        for a in (flags, keys)
    ]
    assert to_dict(resolved[0]) == to_dict(resolved[1]) and (resolved[0].alpha, resolved[0].layout) == (8.0, "peft")
