"""Prediction at scale: `crabplus predict --batch-size B` writes the same file as batch 1, byte for byte, in
float32 on the CPU (left padding, routing over each row's own tokens, crabplus.model.invariant while a batch
decodes), and a row's logits are those it has alone at every step; two gloo processes under
torchrun write the same file as one process; a rank killed mid-run, then the same command again, gives the
file of an uninterrupted run. A bad input inside a batch is skipped and counted, the rest of its batch answered.

Toy-sized: the small AVSynth set (s4 and cremad) and an untrained tiny checkpoint (helpers/predict.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers.predict import save_tiny_checkpoint

from crabplus.cli.main import main

pytestmark = pytest.mark.integration  # predicts through the CLI, and under torchrun

NEW_TOKENS = 48  # long enough to meet near-ties of the untrained model (a row's last bits decide its answer)
TORCHRUN = Path(sys.executable).with_name("torchrun")


@pytest.fixture(scope="module")
def world(small_avsynth, tmp_path_factory):
    """Records of two tasks interleaved (so bucketing reorders them), a record whose video is missing (skipped
    inside its batch) and a line that is not a record (skipped before any batch); the reference file of batch 1."""
    tmp = tmp_path_factory.mktemp("scale")
    checkpoint = save_tiny_checkpoint(tmp / "model")
    lines = []
    for name in ("cremad/train.jsonl", "s4/train.jsonl", "cremad/test.jsonl", "s4/test.jsonl"):
        lines += [line for line in (small_avsynth / name).read_text().splitlines() if line.strip()]
    lost = json.loads(lines[0]) | {"id": "lost-video"}
    lost["media"] = dict(lost["media"], video="cremad/media/lost.mp4")
    lines[3:3] = [json.dumps(lost), '{"id": "no-fields"}']
    records = tmp / "records.jsonl"
    records.write_text("\n".join(lines) + "\n")
    reference = tmp / "one" / "p.jsonl"
    assert main(predict_args(records, small_avsynth, checkpoint, reference, 1)) == 0
    return records, small_avsynth, checkpoint, reference


def predict_args(records: Path, root: Path, checkpoint: Path, output: Path, batch: int) -> list[str]:
    return [
        "predict",
        str(records),
        "--root",
        str(root),
        "--checkpoint",
        str(checkpoint),
        "--output",
        str(output),
        "--max-new-tokens",
        str(NEW_TOKENS),
        "--batch-size",
        str(batch),
    ]


def skips(output: Path) -> list[dict]:
    return [json.loads(line) for line in (output.parent / (output.name + ".skipped.jsonl")).read_text().splitlines()]


def test_the_reference_run_keeps_input_order_and_skips_inside_a_batch(world):
    records, _, _, reference = world
    ids = [json.loads(line)["id"] for line in records.read_text().splitlines()]
    rows = [json.loads(line) for line in reference.read_text().splitlines()]
    assert [r["id"] for r in rows] == [i for i in ids if i not in ("lost-video", "no-fields")]
    assert all(r["routing"] and r["prediction"] for r in rows)
    reasons = {s["id"]: s["reason"] for s in skips(reference)}
    assert sorted(reasons) == ["lost-video", "no-fields"]
    assert "lost.mp4" in reasons["lost-video"] and "'dataset'" in reasons["no-fields"]


def test_batch_8_writes_the_same_file_as_batch_1(world, tmp_path):
    from crabplus.infer.batching import plan_batches, prompt_key
    from crabplus.infer.predictor import Predictor
    from crabplus.schema.records import load_records

    records, root, checkpoint, reference = world
    # the plan groups the two tasks, and its first batch pads a shorter prompt of one task to the other's length
    predictor = Predictor.from_checkpoint(checkpoint)
    loaded = load_records(records, errors=[])
    plan = plan_batches([prompt_key(r, predictor.tokenizer) for r in loaded], 8)
    assert [len(b) for b in plan] == [8, 1] and plan[0] != sorted(plan[0])
    lengths = {
        predictor.processor.encode(loaded[i], root, with_target=False)["input_ids"].shape[-1]
        for i in plan[0]
        if loaded[i].id != "lost-video"
    }
    assert len(lengths) > 1  # left padding inside the batch

    out = tmp_path / "p.jsonl"
    assert main(predict_args(records, root, checkpoint, out, 8)) == 0
    assert out.read_bytes() == reference.read_bytes()
    assert skips(out) == skips(reference)


def find_worker(torchrun_pid: int, rank: int) -> int | None:
    """The pid of torchrun's worker of ``rank`` (a child of the torchrun process with RANK=<rank>)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            env = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == torchrun_pid and f"RANK={rank}".encode() in env:
            return int(entry.name)
    return None


def torchrun(args: list[str], *, kill_rank_after: Path | None = None) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node=2 -m crabplus ARGS``; with ``kill_rank_after``, rank 1 is killed with SIGKILL
    as soon as that file (its part) holds a row."""
    if not TORCHRUN.is_file() and shutil.which("torchrun") is None:
        pytest.fail("torchrun is not installed next to this Python")
    env = {**os.environ, "CRABPLUS_QUIET": "1", "OMP_NUM_THREADS": "1"}
    cmd = [str(TORCHRUN), "--standalone", "--nproc_per_node=2", "-m", "crabplus", *args]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )  # a session of its own: a hang is ended with its workers
    killed = False
    try:
        deadline = time.monotonic() + 240
        while kill_rank_after is not None and not killed and proc.poll() is None and time.monotonic() < deadline:
            if kill_rank_after.is_file() and kill_rank_after.read_bytes().count(b"\n") >= 1:
                pid = find_worker(proc.pid, 1)
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
                    killed = True
            time.sleep(0.02)
        out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail("torchrun did not finish within 240 s:\n" + out[-3000:])
    if kill_rank_after is not None:
        assert killed, "rank 1 finished before it could be killed:\n" + out[-3000:]
    return subprocess.CompletedProcess(cmd, proc.returncode, out, None)


def test_two_gloo_processes_write_the_same_file_as_one(world, tmp_path):
    records, root, checkpoint, reference = world
    out = tmp_path / "p.jsonl"
    done = torchrun(predict_args(records, root, checkpoint, out, 4))
    assert done.returncode == 0, done.stdout[-4000:]
    assert out.read_bytes() == reference.read_bytes()
    assert skips(out) == skips(reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "p.jsonl",
        "p.jsonl.config.yaml",
        "p.jsonl.order.json",
        "p.jsonl.skipped.jsonl",
    ]  # the parts merged away
    assert done.stdout.count("wrote 8 prediction(s)") == 1  # rank 0 alone reports, the counts of both ranks


@pytest.mark.slow  # three torchrun launches
def test_a_rank_killed_mid_run_then_the_same_command_gives_the_uninterrupted_file(world, tmp_path, capsys):
    records, root, checkpoint, reference = world
    out = tmp_path / "p.jsonl"
    args = predict_args(records, root, checkpoint, out, 1)
    part1 = tmp_path / "p.jsonl.rank1-of-2.jsonl"
    killed = torchrun(args, kill_rank_after=part1)
    assert killed.returncode != 0
    whole = reference.read_text().splitlines(keepends=True)
    kept = [line for line in part1.read_text().splitlines(keepends=True) if line.endswith("\n")]
    assert kept and all(line in whole for line in kept)  # rank 1's rows so far are the reference's rows
    # a partial run merges what it has, in input order, and says what is missing
    capsys.readouterr()
    assert main(["predict", "--merge", str(out)]) == 0
    assert "not answered yet" in capsys.readouterr().out
    partial = out.read_text().splitlines(keepends=True)
    assert 0 < len(partial) < 8 and partial == [line for line in whole if line in partial]
    again = torchrun(args)
    assert again.returncode == 0, again.stdout[-4000:]
    assert out.read_bytes() == reference.read_bytes()
    assert skips(out) == skips(reference)


def test_more_left_padding_changes_no_answer(world):
    """The compiled decoder's batches are left-padded to a multiple of 64 tokens: the rows stay those of the
    shortest padding, routing included, to the last bit (positions come from the attention mask, and on the CPU
    the LLM attends each row over its own tokens: crabplus.model.invariant; before that the attention summed over
    the padded length and one routing weight moved by 6e-8)."""
    from crabplus.infer.batch import generate_rows
    from crabplus.infer.predictor import Predictor
    from crabplus.schema.records import load_records

    records, root, checkpoint, _ = world
    predictor = Predictor.from_checkpoint(checkpoint)
    loaded = [r for r in load_records(records, errors=[]) if r.id != "lost-video"][:3]
    samples = [predictor.processor.encode(r, root, with_target=False) for r in loaded]
    plain = generate_rows(predictor, loaded, samples, max_new_tokens=8, record_routing=True)
    padded = generate_rows(predictor, loaded, samples, max_new_tokens=8, record_routing=True, pad_multiple=64)
    assert [(r.id, r.predict, r.routing) for r in padded] == [(r.id, r.predict, r.routing) for r in plain]


def test_a_padded_row_in_a_batch_decodes_with_the_logits_it_has_alone(world):
    """What the batch-size test rests on, at the logits, where no near-tie is needed to see a difference: a batch
    of 16 rows (the 8 records twice, so that the audio tower convolves 16 windows), left-padded to a multiple of 64
    tokens, gives an s4 row and a cremad row bit-equal logits at every decoding step to the same row alone
    (unpadded, decoded with cpu_min_rows() rows, as batch 1 is). Each cause in crabplus.model.invariant broke
    this (checked by undoing each fix): PyTorch hands a conv of 16 items or more to NNPACK; the LLM's attention
    summed a padded row over the batch's longest prompt; MKL's products of 8 rows are not those of 4 (or 1) on an
    Intel CPU without its strict mode. Together they flipped 2 answers
    of 32 in benchmarks/predict.py at batch 8 while the 48-token answers of the tests above held."""
    from crabplus.infer.batch import collate_samples
    from crabplus.infer.batching import cpu_min_rows
    from crabplus.infer.predictor import Predictor
    from crabplus.model.generate import FORWARD_KEYS
    from crabplus.model.invariant import batch_invariant
    from crabplus.schema.records import load_records
    from crabplus.schema.tokens import special_token_ids

    records, root, checkpoint, _ = world
    predictor = Predictor.from_checkpoint(checkpoint)
    model = predictor.model.eval()
    loaded = [r for r in load_records(records, errors=[]) if r.id != "lost-video"]
    loaded.sort(key=lambda r: r.dataset != "s4")  # the s4 rows (the shorter prompts) first
    samples = [predictor.processor.encode(r, root, with_target=False) for r in loaded]
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv1d))  # the audio tower's first conv
    items: list[int] = []
    hook = conv.register_forward_hook(lambda mod, args, out: items.append(args[0].shape[0]))
    pad = special_token_ids(predictor.tokenizer)["pad"]

    def step_logits(recs, samps, pad_multiple=1) -> tuple[list[torch.Tensor], torch.Tensor]:
        batch = collate_samples(predictor, recs, samps, pad_multiple=pad_multiple)
        inputs = {k: batch[k] for k in FORWARD_KEYS if batch.get(k) is not None}
        with torch.no_grad(), batch_invariant(model, torch.device("cpu")):
            out = model.generate(
                **inputs, max_new_tokens=6, min_new_tokens=6, do_sample=False, pad_token_id=pad, eos_token_id=[pad],
                output_logits=True, return_dict_in_generate=True,
            )  # fmt: skip
        return list(out.logits), batch["attention_mask"]  # logits: one [B, vocab] per step

    try:
        together, mask = step_logits(loaded * 2, samples * 2, pad_multiple=64)  # every row padded, by 49 or more
    finally:
        hook.remove()
    cremad = next(i for i, r in enumerate(loaded) if r.dataset == "cremad")
    assert loaded[0].dataset == "s4" and mask[0, 0] == 0 and mask[cremad, 0] == 0  # both left-padded
    assert len(loaded) == 8 and items[0] >= 16  # the batch's conv has 16 items or more (NNPACK's threshold)
    for row in (0, cremad):
        rows = cpu_min_rows()
        alone, _ = step_logits([loaded[row]] * rows, [samples[row]] * rows)
        assert len(together) == len(alone) == 6
        for step, (a, b) in enumerate(zip(alone, together)):
            assert torch.equal(a[0], b[row]), f"{loaded[row].id}, step {step}: {(a[0] - b[row]).abs().max():.3g} apart"
