"""The stages' one reuse rule (crabplus.utils.stamps, crabplus.experiments.stages): an output is reused only
while the stamp beside it matches the stage's configuration and its inputs' contents and the output still
holds what was written. File times never count; a damaged stamp or output is made again."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from crabplus.experiments import stages
from crabplus.utils import stamps


class Maker:
    """A stage that writes ``text`` into ``out`` and counts how often it ran."""

    def __init__(self, out):
        self.out, self.calls = out, 0

    def __call__(self, text="made"):
        def make():
            self.calls += 1
            self.out.write_text(text)

        return make


def test_a_file_output_is_reused_until_its_config_an_input_or_itself_changes(tmp_path):
    src, out = tmp_path / "input.txt", tmp_path / "out.txt"
    src.write_text("abc")
    maker = Maker(out)

    def run(config=1):
        return stamps.run_once(out, {"n": config}, {"src": stamps.input_digest(src)}, maker())

    assert run() is False and maker.calls == 1 and out.read_text() == "made"
    assert run() is True and maker.calls == 1
    os.utime(src, (1e9, 1e9))  # another file time, the same content
    os.utime(out, (1e9, 1e9))
    assert run() is True and maker.calls == 1
    src.write_text("abd")  # the same length, other content
    assert run() is False and maker.calls == 2
    assert run(config=2) is False and maker.calls == 3
    assert run(config=2) is True
    out.write_text("edited")  # the output no longer holds what the stage wrote
    assert run(config=2) is False and maker.calls == 4 and out.read_text() == "made"
    out.unlink()
    assert run(config=2) is False and maker.calls == 5


@pytest.mark.parametrize("damage", ["", "{", "[]", '{"format": 1}', "truncate", "digest"])
def test_a_damaged_stamp_reuses_nothing(tmp_path, damage):
    out = tmp_path / "out.txt"
    maker = Maker(out)
    assert stamps.run_once(out, {}, {}, maker()) is False
    stamp = stamps.stamp_of(out)
    assert stamp == tmp_path / "out.txt.stamp.json" and stamps.read_stamp(stamp) is not None
    if damage == "truncate":
        stamp.write_bytes(stamp.read_bytes()[:-20])
    elif damage == "digest":  # outputs recorded, but their digest is not theirs
        data = json.loads(stamp.read_text())
        stamp.write_text(json.dumps({**data, "digest": "0" * 64}))
    else:
        stamp.write_text(damage)
    assert stamps.read_stamp(stamp) is None
    assert stamps.run_once(out, {}, {}, maker()) is False and maker.calls == 2
    assert stamps.run_once(out, {}, {}, maker()) is True


def test_an_interrupted_stage_is_begun_not_reusable_and_made_again(tmp_path):
    out = tmp_path / "out.txt"

    def crash():
        out.write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        stamps.run_once(out, {"n": 1}, {}, crash)
    key = stamps.stage_key({"n": 1}, {})
    assert stamps.begun(out, key) and not stamps.reusable(out, key) and not stamps.begun(out, "another")
    maker = Maker(out)
    assert stamps.run_once(out, {"n": 1}, {}, maker()) is False and out.read_text() == "made"


def test_a_folder_output_records_every_file_but_hidden_ones(tmp_path):
    out = tmp_path / "folder"

    def make():
        (out / "sub").mkdir(parents=True)
        (out / "sub" / "a.txt").write_text("a")
        (out / "b.txt").write_text("b")

    assert stamps.run_once(out, {}, {}, make) is False
    key = stamps.stage_key({}, {})
    (out / ".cache").mkdir()
    (out / ".cache" / "x").write_text("cache")  # temporaries and caches are not part of the output
    assert stamps.reusable(out, key)
    (out / "c.txt").write_text("c")  # a file the stage did not write: not its output any more
    assert not stamps.reusable(out, key)
    (out / "c.txt").unlink()
    assert stamps.reusable(out, key)
    digest = stamps.read_stamp(stamps.stamp_of(out))["digest"]
    assert stamps.input_digest(out) == digest  # a downstream stage reads the upstream stamp
    shutil.copytree(out, tmp_path / "copy")  # no stamp: fingerprinted by content, names relative to the folder
    assert stamps.input_digest(tmp_path / "copy") == stamps.content_digest(out) != digest


def test_side_by_side_files_are_one_output(tmp_path):
    def make():
        (tmp_path / "report.json").write_text("{}")
        (tmp_path / "report.md").write_text("# r")
        return ["report.json", "report.md"]

    out = tmp_path / "report.json"
    assert stamps.run_once(out, {}, {}, make) is False
    assert stamps.run_once(out, {}, {}, make) is True
    (tmp_path / "report.md").write_text("# edited")
    assert stamps.run_once(out, {}, {}, make) is False
    with pytest.raises(ValueError, match="must include the output"):
        stamps.finish(out, "k", files=["report.md"])


def _copy_records(src, dest, split="train"):
    """The record files of ``src`` (an AVSynth folder) copied into ``dest``: inputs a test may change."""
    for path in sorted(src.glob(f"*/{split}.jsonl")):
        (dest / path.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, dest / path.parent.name / path.name)
    return dest


def test_the_validation_split_is_carved_again_only_when_its_records_or_size_change(small_avsynth, tmp_path):
    from crabplus.schema.records import load_records

    data = _copy_records(small_avsynth, tmp_path / "data")
    splits = tmp_path / "splits"
    stages.carve_validation(data, splits, 1)
    val = splits / "s4" / "val.jsonl"
    n_train = len(load_records(data / "s4" / "train.jsonl"))
    assert len(load_records(val)) == 1 and len(load_records(splits / "s4" / "train.jsonl")) == n_train - 1
    written = val.stat().st_mtime_ns
    os.utime(data / "s4" / "train.jsonl", (1e9, 1e9))
    stages.carve_validation(data, splits, 1)
    assert val.stat().st_mtime_ns == written
    stages.carve_validation(data, splits, 2)
    assert len(load_records(val)) == 2
    source = data / "s4" / "train.jsonl"
    source.write_text("".join(reversed(source.read_text().splitlines(keepends=True))))  # other content, same size
    stages.carve_validation(data, splits, 2)
    assert [r.id for r in load_records(val)] == [r.id for r in load_records(source)[-2:]]


def test_a_damaged_avsynth_set_is_made_again_with_the_same_fingerprint(tmp_path, capsys):
    from crabplus.synth import SynthConfig

    data = tmp_path / "data"
    cfg = SynthConfig(per_dataset=2, image_size=56, datasets=["ks"], workers=0)
    stages.synthesize(cfg, data)
    digest = stamps.input_digest(data)
    assert "AVSynth set written" in capsys.readouterr().out
    os.utime(data / "manifest.json", (1e9, 1e9))
    stages.synthesize(cfg, data)
    assert "reusing AVSynth set" in capsys.readouterr().out
    records = data / "ks" / "test.jsonl"
    records.write_text(records.read_text().replace('"ks', '"xx', 1))
    stages.synthesize(cfg, data)
    assert "AVSynth set written" in capsys.readouterr().out
    assert '"xx' not in records.read_text() and stamps.input_digest(data) == digest  # same settings, same bytes


@pytest.mark.integration  # it trains
def test_a_training_stage_is_reused_resumed_or_trained_anew_by_content(small_avsynth, tmp_path, capsys):
    import torch
    from helpers.train import tiny_run_config
    from safetensors.torch import load_file

    records = _copy_records(small_avsynth, tmp_path / "records")
    train_files = sorted(str(p) for p in records.glob("*/train.jsonl"))
    cfg = tiny_run_config(
        small_avsynth,
        tmp_path / "run",
        f"data.train=[{','.join(train_files)}]",
        "train.max_steps=1",
        "train.save_steps=1",
    )
    final = stages.train(cfg)
    adapter = final / "adapter" / "adapter.safetensors"
    first = load_file(adapter)
    written = adapter.stat().st_mtime_ns
    capsys.readouterr()

    os.utime(train_files[0], (1e9, 1e9))  # touched, not changed
    assert stages.train(cfg) == final and adapter.stat().st_mtime_ns == written
    assert "reusing finished stage" in capsys.readouterr().out

    shutil.rmtree(final)  # the output lost: the run begun for the same key resumes from its checkpoint
    assert stages.train(cfg) == final
    printed = capsys.readouterr().out
    assert "resume: continuing" in printed and "training anew" not in printed
    # the same tensors (not always the same bytes: safetensors writes its header's metadata entries in a hash map's
    # order, which changes from one write to the next)
    again = load_file(adapter)
    assert sorted(again) == sorted(first) and all(torch.equal(again[k], first[k]) for k in first)

    source = records / "s4" / "train.jsonl"
    source.write_text("".join(source.read_text().splitlines(keepends=True)[:-1]))  # one record fewer
    stages.train(cfg)
    printed = capsys.readouterr().out
    assert "training anew" in printed and "resume: continuing" not in printed
    stages.train(cfg)
    assert "reusing finished stage" in capsys.readouterr().out


def test_a_modular_stage_built_from_parts_is_keyed_by_their_contents(tmp_path):
    """A modular model built from ``model.modular``'s folders starts from those folders' weights, so their
    contents, not their paths, key the stage: the modular base rewrites ``parts/llm`` in place when its frozen
    LLM changes, and the projector stage trained on the old LLM must not be reused then."""
    from crabplus.train.run_config import load_config

    records = tmp_path / "records.jsonl"
    records.write_text("{}\n")
    parts = {name: tmp_path / "parts" / name for name in ("vision", "audio", "llm")}
    for name, folder in parts.items():
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_text(f"{name} weights")
    base = [f"data.train=[{records}]", "model.adapter=none", "train.stage=base"]
    modular = load_config(None, [*base, "model.family=modular", *(f"model.modular.{k}={v}" for k, v in parts.items())])
    before = stages.train_inputs(modular)
    assert set(before["parts"]) == {"vision", "audio", "llm"}

    (parts["llm"] / "model.safetensors").write_text("another LLM")  # same path, other weights
    after = stages.train_inputs(modular)
    assert after["parts"]["llm"] != before["parts"]["llm"] and after["parts"]["vision"] == before["parts"]["vision"]
    assert stamps.stage_key({}, after) != stamps.stage_key({}, before)

    # a unified run (or a modular one from a saved checkpoint) keys as before: no parts in its inputs
    assert "parts" not in stages.train_inputs(load_config(None, base))
