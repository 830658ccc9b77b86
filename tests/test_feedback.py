"""What a user sees while waiting: a line while the model loads, progress as log lines when the output is
not a terminal, a per-task answer budget instead of 512 tokens everywhere, and an answer that ran away into
repetition stopped there instead of at the limit."""

from __future__ import annotations

import logging

import pytest
import torch
from helpers.media import write_clip

from crabplus.cli.main import main
from crabplus.model.repetition import SPAN, repeats_at_end
from crabplus.tasks.families import ANSWER_TOKENS, answer_tokens


def test_repeats_at_end_finds_short_cycles_only():
    rng = torch.Generator().manual_seed(0)
    varied = torch.randint(10, 2000, (1, 200), generator=rng)
    assert not repeats_at_end(varied).item()
    commas = torch.cat([varied[:, :20], torch.full((1, SPAN + 1), 7)], dim=1)
    assert repeats_at_end(commas).item()
    phrase = varied[:, :8].repeat(1, 7)  # an 8-token phrase 7 times: 56 tokens
    assert repeats_at_end(phrase).item() and not repeats_at_end(phrase[:, :SPAN]).item()
    assert not repeats_at_end(varied[:, :30].repeat(1, 3)).item()  # a period of 30 is a list, not a loop
    assert repeats_at_end(torch.cat([varied[:, : SPAN + 1], commas[:, -SPAN - 1 :]])).tolist() == [False, True]


def test_answer_budgets_follow_the_task():
    assert answer_tokens("ks") == ANSWER_TOKENS["label"] == 128
    assert answer_tokens("avvp") == 512 and answer_tokens("ave") == 384 and answer_tokens("s4") == 192


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from helpers.model import tiny_model_config, tiny_tokenizer

    from crabplus.model import build_thinker, save_checkpoint

    tok, cfg = tiny_tokenizer(), tiny_model_config(adapter="none")
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny") / "model"
    save_checkpoint(folder, build_thinker(cfg, tok), tok, cfg)
    return folder


def looping_predictor(folder):
    """The tiny model with a language head that always says the same comma token: it can only repeat."""
    from crabplus.infer import Predictor

    predictor = Predictor.from_checkpoint(folder)
    comma = predictor.tokenizer(",", add_special_tokens=False)["input_ids"][0]
    head = predictor.model.lm_head
    with torch.no_grad():
        head.weight.zero_()
        bias = torch.zeros(head.weight.shape[0])
        bias[comma] = 50.0
        head.bias = torch.nn.Parameter(bias)
    return predictor


@pytest.mark.integration  # decodes with the tiny model
def test_a_runaway_answer_stops_where_it_starts_repeating(tiny, tmp_path):
    from crabplus.infer import predict

    predictor = looping_predictor(tiny)
    tok = predictor.tokenizer
    clip = write_clip(tmp_path / "c.mp4", seconds=1.0, width=32, height=32)
    stopped = predict(clip, task="avvp", predictor=predictor)  # avvp's budget: 512 tokens
    n = len(tok(stopped.text, add_special_tokens=False)["input_ids"])
    assert set(stopped.text) == {","} and n <= SPAN + 1, n

    from crabplus.infer.batch import encode_batch
    from crabplus.infer.single import build_record
    from crabplus.model.generate import generate_ids

    record, root = build_record("ks", clip)
    _, batch = encode_batch(predictor, [record], root)
    assert generate_ids(predictor.model, tok, batch, max_new_tokens=80, stop_repetition=False).shape[1] == 80


@pytest.mark.integration  # predicts through the CLI
def test_loading_says_so_and_progress_is_logged_without_a_terminal(tiny, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("CRABPLUS_QUIET", raising=False)
    folder = tiny
    clips = tmp_path / "clips"
    clips.mkdir()
    for i in range(3):
        write_clip(clips / f"{i}.mp4", seconds=1.0, width=32, height=32)
    assert (
        main(
            [
                "predict",
                str(clips),
                "--task",
                "ks",
                "--checkpoint",
                str(folder),
                "--output",
                str(tmp_path / "p.jsonl"),
                "--max-new-tokens",
                "2",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err  # pytest's captured stdout is not a terminal: no live bar, lines instead
    assert f"loading the model from {folder}" in err and "model loaded in" in err
    assert "predict: 1/3 (33%)" in err and "predict: 3/3 (100%)" in err


def test_progress_lines_come_each_tenth_of_the_way(caplog, monkeypatch):
    from crabplus.utils.progress import progress_bar

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("CRABPLUS_QUIET", raising=False)
    with caplog.at_level(logging.INFO, logger="crabplus.progress"), progress_bar("work", total=45) as bar:
        for _ in range(45):
            bar.update()
    lines = [r.getMessage() for r in caplog.records if r.name == "crabplus.progress"]
    assert len(lines) == 9 and lines[0].startswith("work: 5/45 (11%)") and lines[-1].startswith("work: 45/45 (100%)")
