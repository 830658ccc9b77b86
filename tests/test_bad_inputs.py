"""The bad-input corpus: every wrong file, flag or folder a user can hand the CLI, run in process through
``crabplus.cli.main([...])``. Each must end in one clear line on stderr naming what is wrong (the file,
field or flag) and a non-zero exit code of 1 or 2 — never a traceback, never the "unexpected error" of a
bug (code 3), never a hang — or, where the command skips and counts (prediction over many inputs), in
a counted skip with its reason.

Each case is ``(name, build, expect, needle)``: ``build(ctx)`` writes the inputs under ``ctx.tmp`` and
returns the argv; ``expect`` is ``"error"``, ``"skip"`` or ``"ok"``; ``needle`` must appear in the
message (usually the file or flag name, as ``{tmp}``-relative text or a flag).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from helpers.media import sine, write_clip, write_png, write_wav

from crabplus.cli.main import main

TIME_LIMIT_S = 20.0  # per case; the slowest (a tiny model load + a decode) take about 2 s


@dataclass
class Ctx:
    tmp: Path
    base: Path  # a tiny model checkpoint (random base included, I-LoRA adapter)
    adapter_only: Path  # an I-LoRA checkpoint naming ../base-model as its base
    clip: Path  # a valid 1 s clip


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    from helpers.model import tiny_model_config, tiny_tokenizer

    from crabplus.model import attach_adapter, build_thinker, save_checkpoint

    root = tmp_path_factory.mktemp("bad-assets")
    tok = tiny_tokenizer()
    torch.manual_seed(0)
    cfg = tiny_model_config()
    save_checkpoint(root / "model", attach_adapter(build_thinker(cfg, tok), cfg), tok, cfg)
    base_cfg = tiny_model_config(adapter="none")
    save_checkpoint(root / "base-model", build_thinker(base_cfg, tok), tok, base_cfg)
    cfg2 = tiny_model_config(checkpoint=str(root / "base-model"))
    save_checkpoint(root / "adapter-only", attach_adapter(build_thinker(cfg2, tok), cfg2), tok, cfg2)
    clip = write_clip(root / "clip.mp4", seconds=1.0, width=32, height=32)
    return root, clip


@pytest.fixture
def ctx(assets, tmp_path):
    root, clip = assets
    return Ctx(tmp_path, root / "model", root / "adapter-only", clip)


# ------------------------------------------------------------------------------------------ builders


def rec(**changes) -> dict:
    """A valid AVE-like record, with ``changes`` applied (dotted keys reach into sub-objects)."""
    r = {
        "id": "ave-1",
        "dataset": "ave",
        "task": "localization",
        "split": "test",
        "media": {"video": "ave/1.mp4"},
        "instruction": "Describe the events.",
        "answer": {"events": [{"label": "dog", "start": 1, "end": 3}]},
        "target": "t",
        "meta": {"duration": 10},
    }
    for key, value in changes.items():
        *path, last = key.split(".")
        node = r
        for part in path:
            node = node[part]
        node[last] = value
    return r


def records_file(ctx: Ctx, *rows, raw: bytes | None = None, name: str = "r.jsonl") -> Path:
    path = ctx.tmp / name
    path.write_bytes(raw if raw is not None else "".join(json.dumps(r) + "\n" for r in rows).encode())
    return path


def validate(*rows, raw: bytes | None = None):
    return lambda c: ["data", "validate", str(records_file(c, *rows, raw=raw))]


def pred_row(**changes) -> dict:
    row = {"id": "ave-1", "dataset": "ave", "predict": "<event>dog</event><range>1,3</range>"}
    row.update(changes)
    return row


def evaluate(*rows, raw: bytes | None = None):
    def build(c: Ctx):
        data = records_file(c, rec(), name="data.jsonl")
        preds = c.tmp / "preds.jsonl"
        preds.write_bytes(raw if raw is not None else "".join(json.dumps(r) + "\n" for r in rows).encode())
        return ["eval", "--predictions", str(preds), "--data", str(data), "--no-meteor", "--chance-draws", "1"]

    return build


def train(*overrides, config: str | bytes | None = None):
    def build(c: Ctx):
        args = ["train", f"output_dir={c.tmp / 'run'}", *overrides]
        if config is not None:
            path = c.tmp / "cfg.yaml"
            path.write_bytes(config if isinstance(config, bytes) else config.encode())
            args[1:1] = ["--config", str(path)]
        return args

    return build


def predict(*flags, video=None, checkpoint=None):
    def build(c: Ctx):
        v = video(c) if callable(video) else (video or str(c.clip))
        ck = checkpoint(c) if callable(checkpoint) else str(c.base)
        return ["predict", v, "--task", "ks", "--checkpoint", ck, "--max-new-tokens", "2", *flags]

    return build


def media(write):
    """predict on a media file made by ``write(path_stem)``; the model loads, then decoding fails."""
    return predict(video=lambda c: str(write(c.tmp / "in")))


def damaged_checkpoint(damage, source: str = "base"):
    def build(c: Ctx):
        dst = c.tmp / "ckpt"
        shutil.copytree(getattr(c, source), dst)
        damage(dst)
        return str(dst)

    return predict(checkpoint=build)


def write_bytes(name: str, data: bytes):
    def write(stem: Path) -> Path:
        path = stem.with_name(name)
        path.write_bytes(data)
        return path

    return write


def cut(fraction: float):
    def write(stem: Path) -> Path:
        path = write_clip(stem.with_name("cut.mp4"), seconds=1.0, width=32, height=32)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])
        return path

    return write


def forged_wav(rate: int):
    def write(stem: Path) -> Path:
        path = write_wav(stem.with_name("forged.wav"), sine(1.0, 16000), 16000)
        data = bytearray(path.read_bytes())
        data[24:28] = rate.to_bytes(4, "little")
        path.write_bytes(bytes(data))
        return path

    return write


def symlink_loop(c: Ctx) -> str:
    a, b = c.tmp / "loop-a.mp4", c.tmp / "loop-b.mp4"
    os.symlink(b, a)
    os.symlink(a, b)
    return str(a)


def fifo(c: Ctx) -> str:
    path = c.tmp / "fifo.mp4"
    os.mkfifo(path)
    return str(path)


def truncate_file(name: str, keep: float):
    def damage(d: Path) -> None:
        path = next(d.rglob(name))
        path.write_bytes(path.read_bytes()[: int(path.stat().st_size * keep)])

    return damage


def replace_file(name: str, data: bytes):
    def damage(d: Path) -> None:
        next(d.rglob(name)).write_bytes(data)

    return damage


def pickle_weights(d: Path) -> None:
    torch.save({"w": torch.zeros(2)}, d / "model.safetensors")


def drop_tensor(d: Path) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(str(d / "model.safetensors"))
    state.pop(sorted(state)[0])
    save_file(state, str(d / "model.safetensors"), metadata={"format": "pt"})


def edit_json(name: str, **changes):
    def damage(d: Path) -> None:
        path = next(d.rglob(name))
        data = json.loads(path.read_text())
        for key, value in changes.items():
            *parts, last = key.split(".")
            node = data
            for part in parts:
                node = node[part]
            node[last] = value
        path.write_text(json.dumps(data))

    return damage


def lora_without_weights(d: Path) -> None:
    """A PEFT LoRA adapter folder whose weights are gone: PEFT alone would ask the Hub for a repository."""
    (d / "adapter" / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4}))
    (d / "adapter" / "adapter.safetensors").unlink()


def run_folder_with_checkpoint(c: Ctx) -> None:
    ck = c.tmp / "run" / "checkpoint-1"
    ck.mkdir(parents=True)
    (ck / "train_state.json").write_text("{}")


def with_setup(setup, build):
    def wrapped(c: Ctx):
        setup(c)
        return build(c)

    return wrapped


NESTED = b"[" * 100_000 + b"]" * 100_000 + b"\n"
A2V = {
    "id": "a2v-1",
    "dataset": "a2v",
    "task": "matching",
    "split": "test",
    "media": {"video": "v1.mp4", "video2": "v2.mp4", "audio": "a.wav"},
    "instruction": "i",
    "answer": {"choice": 7},
    "target": "t",
}
AVQA_THU = {
    "id": "thu-1",
    "dataset": "avqa_thu",
    "task": "qa",
    "split": "test",
    "media": {"video": "v.mp4"},
    "instruction": "i",
    "answer": {"choice": 99, "options": ["a", "b", "c", "d"]},
    "target": "t",
}
S4_NAN = {
    "id": "s4-1",
    "dataset": "s4",
    "task": "segmentation",
    "split": "test",
    "media": {"video": "v.mp4", "frame_second": float("nan"), "audio_window_index": 0},
    "instruction": "i",
    "answer": {"label": "dog", "box": [1, 1, 9, 9], "points": [[2, 2]]},
    "target": "t",
}

CASES = [
    # ---- records: `crabplus data validate`
    ("record-not-json", validate(raw=b"{not json\n"), "error", "r.jsonl:1"),
    ("record-not-utf8", validate(raw=b'{"id": "\xff\xfe"}\n'), "error", "not UTF-8"),
    ("record-deeply-nested", validate(raw=NESTED), "error", "nested too deeply"),
    ("record-is-an-array", validate(raw=b"[1, 2]\n"), "error", "JSON object"),
    ("record-missing-id", validate(rec(id="")), "error", "'id'"),
    ("record-unknown-dataset", validate(rec(dataset="nope")), "error", "'dataset'"),
    ("record-task-mismatch", validate(rec(task="qa")), "error", "'task'"),
    ("record-unknown-split", validate(rec(split="dev")), "error", "'split'"),
    ("record-absolute-media", validate(rec(**{"media.video": "/etc/passwd"})), "error", "media.video"),
    ("record-media-escapes-root", validate(rec(**{"media.video": "../../x.mp4"})), "error", "escapes"),
    ("record-a2v-choice-7", validate(A2V), "error", "answer.choice"),
    ("record-avqa-thu-choice-99", validate(AVQA_THU), "error", "answer.choice"),
    (
        "record-event-past-clip-end",
        validate(rec(**{"answer.events": [{"label": "d", "start": 8, "end": 12}]})),
        "error",
        "after the clip's end",
    ),
    ("record-nan-frame-second", validate(S4_NAN), "error", "media.frame_second"),
    (
        "record-infinite-event-start",
        validate(raw=json.dumps(rec()).replace('"start": 1', '"start": Infinity').encode() + b"\n"),
        "error",
        "finite",
    ),
    (
        "record-negative-event",
        validate(rec(**{"answer.events": [{"label": "d", "start": 3, "end": 1}]})),
        "error",
        "start < end",
    ),
    ("record-duplicate-id", validate(rec(), rec()), "error", "duplicate id"),
    (
        "record-box-out-of-range",
        validate(
            {
                **S4_NAN,
                "media": {"image": "i.png", "audio": "a.wav", "audio_window_index": 0},
                "answer": {"label": "d", "box": [0, 0, 300, 9], "points": [[1, 1]]},
            }
        ),
        "error",
        "answer.box",
    ),
    (
        "record-points-malformed",
        validate(
            {
                **S4_NAN,
                "media": {"image": "i.png", "audio": "a.wav", "audio_window_index": 0},
                "answer": {"label": "d", "box": [0, 0, 9, 9], "points": [[1]]},
            }
        ),
        "error",
        "answer.points",
    ),
    ("record-unknown-key", validate(rec(extra=1)), "error", "unknown keys"),
    ("record-negative-duration", validate(rec(**{"meta.duration": -1})), "error", "meta.duration"),
    ("validate-empty-folder", lambda c: ["data", "validate", str(c.tmp)], "error", "--allow-empty"),
    ("validate-missing-path", lambda c: ["data", "validate", str(c.tmp / "nope.jsonl")], "error", "nope.jsonl"),
    ("validate-empty-file", validate(raw=b""), "error", "no records"),
    (
        "validate-media-missing-under-root",
        lambda c: ["data", "validate", str(records_file(c, rec())), "--root", str(c.tmp)],
        "error",
        "media.video",
    ),
    # ---- predictions: `crabplus eval`
    ("eval-empty-predictions", evaluate(raw=b""), "error", "--allow-empty"),
    ("eval-predictions-not-utf8", evaluate(raw=b'{"id": "\xc3\x28"}\n'), "error", "not UTF-8"),
    ("eval-predictions-deeply-nested", evaluate(raw=NESTED), "error", "nested too deeply"),
    ("eval-predict-not-text", evaluate(pred_row(predict=5)), "error", "'predict'"),
    ("eval-prediction-unknown-dataset", evaluate(pred_row(dataset="zzz")), "error", "'dataset'"),
    (
        "eval-routing-not-finite",
        evaluate(raw=b'{"id": "ave-1", "dataset": "ave", "predict": "x", "routing": {"l": [NaN, 1]}}\n'),
        "error",
        "routing.l",
    ),
    ("eval-duplicate-prediction", evaluate(pred_row(), pred_row()), "error", "duplicate id"),
    (
        "eval-missing-predictions",
        lambda c: ["eval", "--predictions", str(c.tmp / "none.jsonl"), "--data", str(records_file(c, rec()))],
        "error",
        "none.jsonl",
    ),
    (
        "eval-predictions-is-a-folder",
        lambda c: ["eval", "--predictions", str(c.tmp), "--data", str(records_file(c, rec()))],
        "error",
        "no such",
    ),
    (
        "eval-data-folder-without-records",
        with_setup(
            lambda c: (c.tmp / "sub").mkdir(),
            lambda c: [
                "eval",
                "--predictions",
                str(records_file(c, pred_row(), name="p.jsonl")),
                "--data",
                str(c.tmp / "sub"),
            ],
        ),
        "error",
        "no *.jsonl",
    ),
    ("eval-quadratic-answer", evaluate(pred_row(predict="<answer>" * 30000)), "ok", ""),
    # ---- configurations: `crabplus train`
    ("config-nan-learning-rate", train("train.learning_rate=.nan"), "error", "train.learning_rate"),
    ("config-unknown-key", train("train.no_such_key=1"), "error", "no_such_key"),
    ("config-wrong-type", train("train.max_steps=many"), "error", "train.max_steps"),
    ("config-missing-checkpoint", train("model.checkpoint=/no/such/folder"), "error", "model.checkpoint"),
    ("config-file-missing", lambda c: ["train", "--config", str(c.tmp / "none.yaml")], "error", "none.yaml"),
    ("config-bad-yaml", train(config="train: [unclosed\n"), "error", "cfg.yaml"),
    ("config-not-a-mapping", train(config="- 1\n- 2\n"), "error", "cfg.yaml"),
    ("config-not-utf8", train(config=b"train:\n  max_steps: \xff\n"), "error", "cfg.yaml"),
    ("config-base-stage-with-adapter", train("train.stage=base", "model.adapter=ilora"), "error", "train.stage"),
    ("config-missing-train-data", train("data.train=[/no/such.jsonl]"), "error", "/no/such.jsonl"),
    ("train-resume-and-overwrite", lambda c: train()(c) + ["--resume", "--overwrite"], "error", "--overwrite"),
    ("train-would-delete-checkpoints", with_setup(run_folder_with_checkpoint, train()), "error", "--resume"),
    ("demo-fresh-on-a-foreign-folder", lambda c: ["demo", "--fresh", "--out", str(c.tmp)], "error", "--fresh"),
    # ---- checkpoints: `crabplus predict`
    ("checkpoint-missing", predict(checkpoint=lambda c: str(c.tmp / "nope")), "error", "nope"),
    ("checkpoint-is-a-file", predict(checkpoint=lambda c: str(c.clip)), "error", "clip.mp4"),
    ("checkpoint-not-ours", predict(checkpoint=lambda c: str(c.tmp)), "error", "crabplus_model.json"),
    (
        "checkpoint-meta-not-json",
        damaged_checkpoint(replace_file("crabplus_model.json", b"{")),
        "error",
        "crabplus_model.json",
    ),
    (
        "checkpoint-weights-truncated",
        damaged_checkpoint(truncate_file("model.safetensors", 0.5)),
        "error",
        "model.safetensors",
    ),
    (
        "checkpoint-weights-empty",
        damaged_checkpoint(replace_file("model.safetensors", b"")),
        "error",
        "model.safetensors",
    ),
    ("checkpoint-weights-pickle", damaged_checkpoint(pickle_weights), "error", "not a safetensors file"),
    ("checkpoint-missing-a-tensor", damaged_checkpoint(drop_tensor), "error", "lack 1 tensor"),
    (
        "checkpoint-adapter-truncated",
        damaged_checkpoint(truncate_file("adapter.safetensors", 0.5)),
        "error",
        "adapter.safetensors",
    ),
    (
        "checkpoint-adapter-rank-changed",
        damaged_checkpoint(edit_json("adapter_config.json", **{"config.rank": 2})),
        "error",
        "adapter",
    ),
    ("checkpoint-lora-weights-missing", damaged_checkpoint(lora_without_weights), "error", "adapter_model.safetensors"),
    (
        "checkpoint-base-moved",
        damaged_checkpoint(edit_json("crabplus_model.json", base="../gone", base_path="/gone"), source="adapter_only"),
        "error",
        "--base",
    ),
    (
        "checkpoint-base-flag-missing",
        lambda c: predict("--base", str(c.tmp / "nobase"), checkpoint=lambda c: str(c.adapter_only))(c),
        "error",
        "--base",
    ),
    # ---- flags: `crabplus predict`
    ("flag-frame-second-nan", predict("--frame-second", "nan"), "error", "--frame-second"),
    ("flag-max-new-tokens-negative", predict("--max-new-tokens", "-5"), "error", "--max-new-tokens"),
    (
        "flag-unknown-task",
        lambda c: ["predict", str(c.clip), "--task", "nope", "--checkpoint", str(c.base)],
        "error",
        "nope",
    ),
    ("flag-a2v-without-audio", predict("--task", "a2v", "--video2", "x.mp4"), "error", "--audio"),
    ("flag-empty-question", predict("--question", " "), "error", "--question"),
    (
        "flag-glob-matches-nothing",
        lambda c: ["predict", str(c.tmp / "*.mkv"), "--task", "ks", "--checkpoint", str(c.base)],
        "error",
        "matches no file",
    ),
    (
        "flag-output-is-a-folder",
        lambda c: ["predict", str(c.clip), "--task", "ks", "--checkpoint", str(c.base), "--output", str(c.tmp)],
        "error",
        "--output",
    ),
    # ---- media
    ("media-symlink-loop", predict(video=symlink_loop), "error", "loop"),
    ("media-missing", predict(video=lambda c: str(c.tmp / "gone.mp4")), "error", "gone.mp4"),
    ("media-fifo", predict(video=fifo), "error", "fifo.mp4"),
    ("media-empty", media(write_bytes("empty.mp4", b"")), "error", "empty.mp4"),
    ("media-garbage", media(write_bytes("garbage.mp4", os.urandom(2048))), "error", "garbage.mp4"),
    ("media-text-named-mp4", media(write_bytes("notes.mp4", b"hello\n" * 100)), "error", "notes.mp4"),
    ("media-truncated-half", media(cut(0.5)), "error", "cut.mp4"),
    ("media-truncated-header", media(cut(0.02)), "error", "cut.mp4"),
    ("media-wav-claims-1-hz", media(forged_wav(1)), "error", "1 Hz"),
    (
        "media-image-task-without-audio",
        lambda c: [
            "predict",
            str(write_png(c.tmp / "f.png", torch.zeros(8, 8, 3, dtype=torch.uint8).numpy())),
            "--task",
            "s4",
            "--checkpoint",
            str(c.base),
        ],
        "error",
        "--audio",
    ),
    (
        "media-many-bad-files-skipped",
        lambda c: [
            "predict",
            str(write_bytes("bad.mp4", b"x" * 100)(c.tmp / "x")),
            "--task",
            "ks",
            "--checkpoint",
            str(c.base),
            "--output",
            str(c.tmp / "p.jsonl"),
        ],
        "skip",
        "bad.mp4",
    ),
    # ---- release folders and converted weights
    ("import-out-is-a-file", lambda c: ["data", "import-avuie", str(c.tmp), "--out", str(c.clip)], "error", "--out"),
    (
        "import-root-without-release",
        lambda c: ["data", "import-avuie", str(c.tmp), "--out", str(c.tmp / "o")],
        "error",
        "AVUIE_2",
    ),
    (
        "import-root-missing",
        lambda c: ["data", "import-avuie", str(c.tmp / "none"), "--out", str(c.tmp / "o")],
        "error",
        "AVUIE_2",
    ),
    (
        "convert-empty-bin",
        lambda c: ["convert", "official-ilora", str(write_bytes("w.bin", b"")(c.tmp / "w")), str(c.tmp / "out")],
        "error",
        "w.bin",
    ),
    (
        "convert-garbage-bin",
        lambda c: [
            "convert",
            "official-ilora",
            str(write_bytes("w.bin", b"\x80\x02junk")(c.tmp / "w")),
            str(c.tmp / "out"),
        ],
        "error",
        "w.bin",
    ),
    (
        "convert-missing-bin",
        lambda c: ["convert", "official-ilora", str(c.tmp / "none.bin"), str(c.tmp / "out")],
        "error",
        "none.bin",
    ),
]


def int8_tensor(d: Path) -> None:
    """One base weight stored as int8 (a quantised or foreign file): it must not be cast silently."""
    from safetensors.torch import load_file, save_file

    state = load_file(str(d / "model.safetensors"))
    name = sorted(state)[0]
    state[name] = state[name].to(torch.int8)
    save_file(state, str(d / "model.safetensors"), metadata={"format": "pt"})


def int32_adapter(d: Path) -> None:
    from safetensors.torch import load_file, save_file

    path = d / "adapter" / "adapter.safetensors"
    state = load_file(str(path))
    state = {k: v.to(torch.int32) for k, v in state.items()}
    save_file(state, str(path), metadata={"format": "pt"})


def mov_24bit_pcm(stem: Path) -> Path:
    from helpers.media import write_mov_pcm

    return write_mov_pcm(stem.with_name("pro.mov"), seconds=1.0, width=32, height=32, bits=24)


def test_a_deeply_nested_release_file_is_an_error_of_its_split(tmp_path, capsys):
    """The import reports each release file's failure in its table row and exits 1 (it was exit 3, a bug)."""
    folder = tmp_path / "AVUIE_2" / "ks"
    folder.mkdir(parents=True)
    (folder / "test.json").write_bytes(NESTED)
    code = main(["data", "import-avuie", str(tmp_path), "--out", str(tmp_path / "o")])
    out, err = capsys.readouterr()
    assert code == 1 and "unexpected" not in out + err
    report = (tmp_path / "o" / "import_report.json").read_text()
    assert f"error: {folder / 'test.json'}: JSON nested too deeply" in report


def output_is_records(c: Ctx) -> list[str]:
    data = records_file(c, rec(), name="data.jsonl")
    return ["predict", str(data), "--checkpoint", str(c.base), "--output", str(data), "--max-new-tokens", "2"]


def resumed_with_other_settings(c: Ctx) -> list[str]:
    out = c.tmp / "p.jsonl"
    first = [
        "predict",
        str(c.clip),
        "--task",
        "ks",
        "--checkpoint",
        str(c.base),
        "--output",
        str(out),
        "--max-new-tokens",
        "2",
    ]
    assert main(first) == 0
    return first[:-1] + ["3"]


# ---- round 23's holes, each reproduced before it was fixed
CASES_23 = [
    ("checkpoint-weights-int8", damaged_checkpoint(int8_tensor), "error", "int8"),
    ("checkpoint-adapter-int32", damaged_checkpoint(int32_adapter), "error", "int32"),
    (
        "checkpoint-meta-is-a-list",
        damaged_checkpoint(replace_file("crabplus_model.json", b"[]")),
        "error",
        "crabplus_model.json",
    ),
    ("config-duplicate-yaml-key", train(config="train:\n  max_steps: 1\n  max_steps: 2\n"), "error", "max_steps"),
    ("flag-output-is-a-record-file", output_is_records, "error", "--output"),
    ("predict-resume-with-other-settings", resumed_with_other_settings, "error", "max_new_tokens"),
    (
        "flag-override-after-a-flag",
        lambda c: ["predict", str(c.clip), "--task", "ks", "max_new_tokens=1", "--checkpoint", str(c.base)],
        "ok",
        "",
    ),
    ("media-mov-24-bit-pcm", media(mov_24bit_pcm), "ok", ""),
    (
        "media-segmentation-on-a-video-without-audio",
        lambda c: [
            "predict",
            str(write_clip(c.tmp / "mute.mp4", seconds=1.0, width=32, height=32, audio=False)),
            "--task",
            "s4",
            "--checkpoint",
            str(c.base),
            "--max-new-tokens",
            "2",
            "--out",
            str(c.tmp),
        ],
        "ok",
        "",
    ),
]


def test_the_corpus_is_large_and_names_are_unique():
    names = [c[0] for c in CASES + CASES_23]
    assert len(names) >= 60 and len(set(names)) == len(names)


@pytest.mark.parametrize("name,build,expect,needle", CASES + CASES_23, ids=[c[0] for c in CASES + CASES_23])
def test_bad_input_gives_one_clear_line(name, build, expect, needle, ctx, capsys):
    argv = build(ctx)
    capsys.readouterr()
    t0 = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - t0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    assert elapsed < TIME_LIMIT_S, f"{name} took {elapsed:.1f} s"
    if expect == "ok":
        assert code == 0, err
        return
    if expect == "skip":
        assert "skipped" in out + err and needle in out + err
        skipped = ctx.tmp / "p.jsonl.skipped.jsonl"
        assert skipped.is_file() and needle in skipped.read_text()
        return
    assert code in (1, 2), f"exit {code}: {err}"
    lines = [line for line in err.splitlines() if line.startswith(("crabplus", "error:"))]
    assert lines, err
    assert needle in err, err
    assert "unexpected" not in err, err


def test_media_files_that_share_a_name_get_a_row_each(ctx, capsys):
    """clip.mp4 and clip.mov were one id ("clip"): the second was counted as already there and lost."""
    from helpers.media import write_mov_pcm

    folder = ctx.tmp / "in"
    folder.mkdir()
    write_clip(folder / "clip.mp4", seconds=1.0, width=32, height=32)
    write_mov_pcm(folder / "clip.mov", seconds=1.0, width=32, height=32)
    out = ctx.tmp / "p.jsonl"
    assert (
        main(
            [
                "predict",
                str(folder),
                "--task",
                "ks",
                "--checkpoint",
                str(ctx.base),
                "--output",
                str(out),
                "--max-new-tokens",
                "2",
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == ["clip.mov", "clip.mp4"]
    assert "already there" not in capsys.readouterr().out


def test_one_id_in_two_record_files_is_an_error_naming_both(ctx, capsys):
    first, second = records_file(ctx, rec(), name="a.jsonl"), records_file(ctx, rec(), name="b.jsonl")
    code = main(
        ["predict", str(first), str(second), "--checkpoint", str(ctx.base), "--output", str(ctx.tmp / "p.jsonl")]
    )
    err = capsys.readouterr().err
    assert code == 2 and "'ave-1'" in err and str(first) in err and str(second) in err


def test_a_resume_with_other_settings_goes_on_when_allowed_and_keeps_both(ctx, capsys):
    out = ctx.tmp / "p.jsonl"
    base = ["predict", str(ctx.clip), "--task", "ks", "--checkpoint", str(ctx.base), "--output", str(out)]
    assert main([*base, "--max-new-tokens", "2"]) == 0
    assert main([*base, "--max-new-tokens", "2", "--device", "cpu"]) == 0  # where it runs changes no answer
    assert main([*base, "--max-new-tokens", "3", "--allow-changed-settings"]) == 0
    assert "max_new_tokens: 2" in out.with_name("p.jsonl.config.yaml").read_text()
    assert "max_new_tokens: 3" in out.with_name("p.jsonl.config.2.yaml").read_text()
