"""Captioning metrics through pycocoevalcap (offline): PTB tokenizer, fallbacks, METEOR (slow)."""

from __future__ import annotations

import shutil

import pytest

from crabplus.metrics import caption as caption_module
from crabplus.metrics import caption_scores

REFS = [
    ["A man plays the guitar.", "Someone is playing a guitar."],
    ["A dog barks at a car."],
    ["Rain falls on a tin roof."],
]


@pytest.mark.skipif(shutil.which("java") is None, reason="needs Java for the PTB tokenizer")
def test_scores_with_ptb_tokenizer_and_empty_prediction():
    notes: list[str] = []
    good = caption_scores(
        ["a man plays the guitar", "a dog barks at a car", "rain falls on a tin roof"], REFS, meteor=False, notes=notes
    )
    assert notes == []
    assert set(good) == {"bleu4", "rouge_l", "cider"}
    assert good["bleu4"] == pytest.approx(1.0, abs=1e-6)  # every hypothesis equals a reference
    assert good["rouge_l"] == pytest.approx(1.0)
    worse = caption_scores(["a man plays the guitar", None, "snow"], REFS, meteor=False)
    assert worse["cider"] < good["cider"] and worse["rouge_l"] < good["rouge_l"]


@pytest.mark.skipif(shutil.which("java") is None, reason="needs Java for the PTB tokenizer")
def test_our_jar_call_tokenizes_like_pycocoevalcap():
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    texts = ["A man plays the guitar.", "Cafe -- naive, isn't it?", "Two (2) dogs; one cat..."]
    expected = PTBTokenizer().tokenize({i: [{"caption": t}] for i, t in enumerate(texts)})
    assert caption_module._run_ptb_jar(texts) == [expected[i][0] for i in range(len(texts))]


def test_without_java_falls_back_and_notes_it(monkeypatch):
    monkeypatch.setattr(caption_module.shutil, "which", lambda name: None)
    monkeypatch.setattr(caption_module, "_TOKEN_CACHE", {})
    notes: list[str] = []
    out = caption_scores(["A man plays the guitar!", "a dog", ""], REFS, meteor=True, notes=notes)
    assert "meteor" not in out and out["rouge_l"] > 0
    assert notes == ["Java not found: PTB tokenizer replaced by a plain lower-case split; METEOR skipped"]


def test_fallback_tokenizer_is_ptb_like():
    assert caption_module._fallback_tokenize("A man's guitar -- loud, LOUD!") == "a man's guitar loud loud"


def test_bad_references_are_errors():
    with pytest.raises(ValueError, match="item 1"):
        caption_scores(["a", "b"], [["x"], [""]], meteor=False)
    with pytest.raises(ValueError, match="2 predictions but 1"):
        caption_scores(["a", "b"], [["x"]], meteor=False)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="needs Java for METEOR")
def test_meteor_runs_offline():
    notes: list[str] = []
    out = caption_scores(["a man plays the guitar", "a dog barks", "rain"], REFS, meteor=True, notes=notes)
    assert notes == []
    assert 0.0 < out["meteor"] <= 1.0
