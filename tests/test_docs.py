"""The documentation stays true: every `crabplus` command shown in README.md and docs/*.md (and every
``python -m crabplus.experiments.base`` line, which makes the perception corpus and the base) parses with the
real command line, and either runs here at toy size (the blocks marked ``<!-- docs-test: runs at toy
size -->``, run below as written plus a few toy-size flags, in the slow tier: ``make test-slow``) or says on
its line what it needs (``# needs real weights``, ``# needs real data`` ...). Every repository file the
docs name exists.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from crabplus.cli.main import COMMANDS, build_parser, main
from crabplus.experiments import base

#: the one documented command that is not a ``crabplus`` subcommand: the perception corpus and the base
BASE = "python -m crabplus.experiments.base"

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
TOY = "<!-- docs-test: runs at toy size"
SYNOPSIS = "<!-- docs-test: synopsis -->"


@dataclass
class Command:
    file: str
    line: int
    text: str  # the command, continuation lines joined, comment removed
    comment: str
    block: str  # "toy", "synopsis" or ""
    block_id: str  # file:line of the block's opening fence

    @property
    def is_base(self) -> bool:
        return self.text.startswith(BASE)

    @property
    def argv(self) -> list[str]:
        words = shlex.split(self.text)
        # "torchrun ... -m crabplus SUB ...", "python -m crabplus.experiments.base ..." and "crabplus SUB ...":
        # the words after the program
        return words[words.index("-m") + 2 :] if words[0] in ("torchrun", "python") else words[1:]


def _strip_comment(line: str) -> tuple[str, str]:
    """Split off a trailing ``# comment`` that is outside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if ch in "\"'" and quote in (None, ch):
            quote = None if quote == ch else ch
        elif ch == "#" and quote is None and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1 :].strip()
    return line.rstrip(), ""


def doc_commands() -> list[Command]:
    out = []
    for path in DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        in_block, kind, pending, block_id = False, "", None, ""
        for i, raw in enumerate(lines):
            if raw.strip().startswith("```"):
                if not in_block:
                    before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
                    kind = "toy" if before.startswith(TOY) else "synopsis" if before.startswith(SYNOPSIS) else ""
                    block_id = f"{path.name}:{i + 1}"
                in_block = not in_block
                continue
            if not in_block:
                continue
            if pending is not None:  # a continuation line
                pending[0] += " " + raw.strip()
                if not pending[0].endswith("\\"):
                    text, comment = _strip_comment(pending[0])
                    out.append(Command(path.name, pending[1], text, comment, kind, block_id))
                    pending = None
                else:
                    pending[0] = pending[0][:-1]
                continue
            stripped = raw.strip()
            if not re.match(rf"(crabplus|torchrun|{re.escape(BASE)})\s", stripped) or (
                stripped.startswith("torchrun") and "crabplus" not in stripped
            ):
                continue
            if stripped.endswith("\\"):
                pending = [stripped[:-1], i + 1]
                continue
            text, comment = _strip_comment(stripped)
            out.append(Command(path.name, i + 1, text, comment, kind, block_id))
    return out


COMMANDS_IN_DOCS = doc_commands()
PARSER = build_parser()


def test_the_docs_show_commands():
    assert len(COMMANDS_IN_DOCS) >= 30
    assert any(c.block == "toy" for c in COMMANDS_IN_DOCS)


@pytest.mark.parametrize("cmd", COMMANDS_IN_DOCS, ids=[f"{c.file}:{c.line}" for c in COMMANDS_IN_DOCS])
def test_every_documented_command_parses_and_runs_here_or_says_what_it_needs(cmd):
    if cmd.block == "synopsis":  # README's one-line summary of each subcommand
        assert cmd.text.split()[1] in COMMANDS, cmd.text
        return
    try:
        (base.build_parser() if cmd.is_base else PARSER).parse_args(cmd.argv)
    except SystemExit as exc:
        pytest.fail(f"{cmd.file}:{cmd.line}: `{cmd.text}` does not parse (exit {exc.code})")
    assert cmd.block == "toy" or "needs " in cmd.comment, (
        f"{cmd.file}:{cmd.line}: `{cmd.text}` is neither in a block run at toy size nor marked '# needs ...'"
    )


# ---------------------------------------------------------------------------------------- toy runs

#: Flags appended to each subcommand so that a documented command runs here in seconds.
TOY_FLAGS = {
    ("data", "synth"): ["--preset", "tiny", "--datasets", "ave,cremad", "--per-dataset", "4", "--quiet"],
    ("train",): ["train.max_steps=1", "train.save_steps=1", "train.batch_size=2", "train.log_steps=1"],
    ("predict",): ["--max-new-tokens", "4"],
    ("eval",): ["--no-meteor", "--chance-draws", "2", "--mask-chance-draws", "1"],
}
#: ... and to ``python -m crabplus.experiments.base``: 2 clips per corpus layout, one step of each stage
BASE_TOY_FLAGS = [
    "corpus_scale=0.001",
    "encoders.steps=1",
    "encoders.batch_size=2",
    "train.max_steps=1",
    "train.save_steps=1",
    "val_clips_scale=0.001",
    "refine_clips_scale=0.001",
    "refine.max_steps=1",
    "refine.save_steps=1",
    "refine.batch_size=2",
]


def toy_argv(cmd: Command) -> list[str]:
    if cmd.is_base:
        return cmd.argv + BASE_TOY_FLAGS
    argv = [("runs/tiny-ilora/final" if a == "C" else a) for a in cmd.argv]  # "C": any trained checkpoint
    for key, flags in TOY_FLAGS.items():
        if tuple(argv[: len(key)]) == key:
            argv = argv + flags
    return argv


def _placeholder_media(work: Path) -> None:
    """The files the prediction examples name (clip.mp4, frame.png, ...), tiny and real."""
    import numpy as np
    from helpers.media import sine, write_clip, write_png, write_wav

    write_clip(work / "clip.mp4", seconds=4.0, width=32, height=32)
    for name in ("first.mp4", "second.mp4"):
        write_clip(work / name, seconds=2.0, width=32, height=32)
    for name in ("sound.wav", "first.wav", "second.wav"):
        write_wav(work / name, sine(2.0, 16000), 16000)
    write_png(work / "frame.png", np.full((32, 32, 3), 128, np.uint8))
    chat = [{"role": "user", "content": [{"type": "video", "video": "clip.mp4"}, {"type": "text", "text": "?"}]}]
    (work / "chat.json").write_text(json.dumps(chat))
    for folder in ("my-videos", "clips"):
        (work / folder).mkdir()
        for k in range(2):
            write_clip(work / folder / f"v{k}.mp4", seconds=2.0, width=32, height=32)


def toy_blocks() -> dict[str, list[Command]]:
    blocks: dict[str, list[Command]] = {}
    for cmd in COMMANDS_IN_DOCS:
        if cmd.block == "toy":
            blocks.setdefault(cmd.block_id, []).append(cmd)
    return blocks


def make_workspace(work: Path) -> Path:
    """A folder holding the repository's configs and evaluation fixtures, where the documented commands
    run as written (relative paths and all)."""
    shutil.copytree(REPO / "configs", work / "configs")
    shutil.copytree(REPO / "tests" / "fixtures" / "eval", work / "tests" / "fixtures" / "eval")
    _placeholder_media(work)
    return work


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return make_workspace(tmp_path_factory.mktemp("docs"))


def _run_block(block: list[Command], work: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(work)
    for cmd in block:
        argv = toy_argv(cmd)
        code = base.main(argv) if cmd.is_base else main(argv)
        captured = capsys.readouterr()
        assert code == 0, f"{cmd.file}:{cmd.line}: `{' '.join(argv)}` exited {code}:\n{captured.err[-2000:]}"


def _walkthrough_blocks() -> list[list[Command]]:
    blocks = [b for b in toy_blocks().values() if b[0].file == "training.md"]
    walkthrough = next(b for b in blocks if any(c.argv[0] == "transfer" for c in b))
    predictions = next(b for b in blocks if all(c.argv[0] == "predict" for c in b))
    return [walkthrough, predictions]


@pytest.mark.slow
def test_the_walkthrough_and_the_prediction_examples_run_at_toy_size(workspace, monkeypatch, capsys):
    """docs/training.md's train -> predict -> eval -> transfer, then every prediction example, in order
    (about 1 CPU-minute: the slow tier; tests/test_cli_path.py runs the same path in the default one)."""
    walkthrough, predictions = _walkthrough_blocks()
    _run_block(walkthrough, workspace, monkeypatch, capsys)
    assert (workspace / "runs" / "transfer").is_dir()
    assert (workspace / "runs" / "tiny-ilora" / "report.json").is_file()
    _run_block(predictions, workspace, monkeypatch, capsys)


@pytest.mark.slow
def test_every_other_block_runs_at_toy_size(tmp_path, monkeypatch, capsys):
    """The remaining marked blocks (training stages, AVSynth, the evaluation fixtures), each in a fresh folder."""
    skip = {b[0].block_id for b in _walkthrough_blocks()}
    blocks = [b for b in toy_blocks().values() if b[0].block_id not in skip]
    assert blocks
    for k, block in enumerate(blocks):
        _run_block(block, make_workspace(tmp_path / str(k)), monkeypatch, capsys)


# ---------------------------------------------------------------------------------------- file references

_REF = re.compile(
    r"(?<![\w/.~-])((?:configs|tests|docs|src|scripts|benchmarks)/[\w./-]*"
    r"\.(?:py|md|yaml|yml|jsonl|json|png|sh|csv|txt|toml))(?![\w.])"
)
_LINK = re.compile(r"\]\(([^)#\s]+)\)")


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_every_file_the_docs_name_is_in_the_repository(path):
    text = path.read_text(encoding="utf-8")
    missing = []
    for ref in set(_REF.findall(text)):
        if not (REPO / ref).exists():
            missing.append(ref)
    for target in set(_LINK.findall(text)):
        if re.match(r"[a-z]+://|mailto:", target):
            continue
        if not (path.parent / target).exists() and not (REPO / target).exists():
            missing.append(target)
    assert not missing, f"{path.name} names files that are not in the repository: {sorted(missing)}"


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_every_code_fence_closes(page):
    """An unclosed fence turns the rest of a page into one code block (docs/model.md had one)."""
    from markdown_it import MarkdownIt

    text = page.read_text(encoding="utf-8")
    fences = [t for t in MarkdownIt().parse(text) if t.type == "fence"]
    closed = sum(1 for line in text.splitlines() if line.lstrip().startswith(("```", "~~~"))) == 2 * len(fences)
    assert closed, f"{page.name}: a code fence is not closed (or one is opened inside another)"
