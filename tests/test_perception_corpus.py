"""The perception pretraining corpus: its own clips, its own wording, no tagged answer; the base stage trains
on it and on nothing else."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from crabplus.config.core import ConfigError
from crabplus.data.config import DataConfig
from crabplus.schema.perception import PERCEPTION_NAMES, is_perception
from crabplus.schema.records import load_records
from crabplus.schema.registry import DATASETS, RELEASE_DATASETS
from crabplus.synth import SynthConfig
from crabplus.synth.clip import clip_seed
from crabplus.synth.pretrain import DEFAULT_CLIPS, corpus_seed
from crabplus.synth.world import ALL_CLASSES, COLOURS, SHAPES
from crabplus.train.config import TrainConfig
from crabplus.train.data import load_sources


def _corpus_records(root) -> list:
    return [r for name in PERCEPTION_NAMES for r in load_records(root / name / "train.jsonl")]


def _task_records(root) -> list:
    return [
        r
        for name in RELEASE_DATASETS
        for split in ("train", "test")
        for r in load_records(root / name / f"{split}.jsonl")
    ]


@pytest.fixture(scope="module")
def all19(tmp_path_factory):
    """Four clips of every one of the 19 mirror datasets (their instructions, questions, answers, media)."""
    from crabplus.synth import generate

    root = tmp_path_factory.mktemp("avsynth-19")
    generate(root, SynthConfig(per_dataset=4, image_size=56), progress=False)
    return root


def test_corpus_clip_seeds_never_meet_the_mirror_datasets_seeds():
    """At the demo's size and more: every corpus clip's random state differs from every mirror clip's."""

    def state(seq) -> bytes:
        return seq.generate_state(4).tobytes()

    mirror = {
        state(clip_seed(seed, d, split, i))
        for seed in (0, 1)
        for d in RELEASE_DATASETS
        for split in ("train", "test", "val")
        for i in range(120)
    }
    corpus = {
        state(corpus_seed(seed, layout, i))
        for seed in (0, 1)
        for layout in DEFAULT_CLIPS
        for i in range(max(DEFAULT_CLIPS.values()))
    }
    assert len(corpus) == 2 * len(DEFAULT_CLIPS) * max(DEFAULT_CLIPS.values())
    assert not mirror & corpus


def test_corpus_media_are_its_own(small_corpus, all19):
    def digests(root, records):
        return {hashlib.sha256((root / p).read_bytes()).hexdigest() for r in records for p in r.media.paths().values()}

    corpus, tasks = _corpus_records(small_corpus), _task_records(all19)
    assert all(p.split("/")[0] in PERCEPTION_NAMES for r in corpus for p in r.media.paths().values())
    assert not digests(small_corpus, corpus) & digests(all19, tasks)


def _normalise(text: str) -> str:
    """Class names, colours, shapes and numbers replaced, so that two questions of one template compare equal."""
    for cls in sorted(ALL_CLASSES, key=len, reverse=True):
        text = text.replace(cls, "X")
    text = re.sub(r"\b(" + "|".join([*COLOURS, *SHAPES]) + r")\b", "Y", text)
    return re.sub(r"\d+", "N", text).strip().lower()


def test_corpus_wording_shares_no_template_with_the_19_datasets(small_corpus, all19):
    corpus = _corpus_records(small_corpus)
    assert {r.dataset for r in corpus} == set(PERCEPTION_NAMES) and all(r.task == "perception" for r in corpus)
    # the fixed text of every instruction template (the parts around its placeholders)
    pieces = [
        p.strip() for spec in DATASETS.values() for p in re.split(r"\{\w+\}", spec.instruction) if len(p.strip()) > 12
    ]
    for r in corpus:
        assert not any(p in r.instruction for p in pieces), r.instruction
        # a tag is written only where the corpus's own question asks for that tag by name
        for tag in set(re.findall(r"</?(\w+)>", r.target)):
            assert f"<{tag}>" in r.instruction, (r.instruction, r.target)
    # whole questions, templates compared (the mirror QA datasets' questions are inside their instructions)
    tasks = _task_records(all19)
    task_questions = {_normalise(r.meta.get("question", r.instruction)) for r in tasks}
    assert any("question" in r.meta for r in tasks)
    # and no corpus answer is a mirror dataset's reasoning chain or answer
    assert not {_normalise(r.target) for r in corpus} & {_normalise(r.target) for r in tasks}
    assert not {_normalise(r.instruction) for r in corpus} & task_questions


def test_corpus_answers_say_where_things_are_in_words_and_numbers(small_corpus):
    still = load_records(small_corpus / "pt_still" / "train.jsonl")
    where = [r for r in still if r.instruction.startswith("Where is each shape")]
    assert where
    for r in where:
        for _cls, x1, x2, y1, y2 in re.findall(r"(\w+ \w+): [a-z ]+, x (\d+) to (\d+), y (\d+) to (\d+)", r.target):
            assert 0 <= int(x1) < int(x2) <= 224 and 0 <= int(y1) < int(y2) <= 224, r.target
        assert re.search(r"(in the|on the|at the) ", r.target)


def test_base_stage_refuses_the_19_datasets_and_takes_the_corpus(small_corpus, small_avsynth):
    base = TrainConfig(stage="base")
    with pytest.raises(ConfigError, match="perception corpus only"):
        load_sources(DataConfig(train=[str(small_avsynth / "s4" / "train.jsonl")]), base)
    mixed = [str(small_corpus / "pt_scene" / "train.jsonl"), str(small_avsynth / "cremad" / "train.jsonl")]
    with pytest.raises(ConfigError, match="cremad"):
        load_sources(DataConfig(train=mixed), base)
    sources = load_sources(DataConfig(train=[str(small_corpus)]), base)
    seen = [r for s in sources for r in s.records]
    assert {r.dataset for r in seen} == set(PERCEPTION_NAMES) and all(is_perception(r.dataset) for r in seen)


def test_corpus_is_deterministic_and_independent_of_workers(tmp_path):
    from crabplus.synth.pretrain import generate_corpus

    cfg = SynthConfig(per_dataset=4, image_size=56)
    clips = {"pt_still": 2, "pt_face": 1}
    generate_corpus(tmp_path / "a", cfg, clips)
    generate_corpus(tmp_path / "b", cfg, clips, workers=2)
    for layout in clips:
        a = (tmp_path / "a" / layout / "train.jsonl").read_bytes()
        assert a == (tmp_path / "b" / layout / "train.jsonl").read_bytes()
    pngs = sorted((tmp_path / "a").rglob("*.png"))
    assert pngs and all(
        np.array_equal(
            np.frombuffer(p.read_bytes(), np.uint8),
            np.frombuffer((tmp_path / "b" / p.relative_to(tmp_path / "a")).read_bytes(), np.uint8),
        )
        for p in pngs
    )


def test_an_order_corpus_asks_each_joined_half_and_leaves_the_rest_unchanged(tmp_path):
    """``order``: the matching layouts join two candidates into one stream, and each half is asked on its own;
    the expected words are that half's shape (from the scene metadata) or the sound the layout's own answer names.
    Without it the corpus is byte for byte the one the shipped base's first stages were made from."""
    from crabplus.synth import pretrain_text as pt
    from crabplus.synth.pretrain import generate_corpus
    from crabplus.synth.world import ALL_CLASSES

    cfg = SynthConfig(per_dataset=4, image_size=56)
    clips = {"pt_pair": 3, "pt_sounds": 3, "pt_still": 1}
    generate_corpus(tmp_path / "plain", cfg, clips)
    generate_corpus(tmp_path / "order", cfg, clips, order=True)
    assert (tmp_path / "plain" / "pt_still" / "train.jsonl").read_bytes() == (
        tmp_path / "order" / "pt_still" / "train.jsonl"
    ).read_bytes()
    plain = [r for lay in ("pt_pair", "pt_sounds") for r in load_records(tmp_path / "plain" / lay / "train.jsonl")]
    assert not any((r.meta.get("probe") or {}).get("attribute") == "order" for r in plain)

    pairs = load_records(tmp_path / "order" / "pt_pair" / "train.jsonl")
    asked = [r for r in pairs if (r.meta.get("probe") or {}).get("attribute") == "order"]
    assert len(asked) == 2 * clips["pt_pair"]  # both clips of every pair
    for r in asked:
        half = 0 if "first clip" in r.instruction else 1
        shown = r.meta["scene"][f"video{half + 1}"]["objects"][0]["class"]
        assert r.meta["probe"] == {"attribute": "order", "expected": shown, "values": 30} and r.target == f"A {shown}."
    tracks = load_records(tmp_path / "order" / "pt_sounds" / "train.jsonl")
    chains = {r.media.audio: r.target for r in tracks if r.instruction.startswith("One clip and two sound tracks")}
    asked = [r for r in tracks if (r.meta.get("probe") or {}).get("attribute") == "order"]
    assert len(asked) == 2 * clips["pt_sounds"] and len(chains) == clips["pt_sounds"]
    for r in asked:
        said = re.search(
            r"The first track is an? ([a-z]+ [a-z]+), the second an? ([a-z]+ [a-z]+)\.", chains[r.media.audio]
        )
        expected = said.group(1 if "first track" in r.instruction else 2)
        assert r.meta["probe"]["expected"] == expected and r.target == f"A {expected}."
        assert expected in {pt.sound(c) for c in ALL_CLASSES}


def unseen_token_share(corpus_root, task_root) -> dict[str, float]:
    """The share of the 19 datasets' target tokens never in a corpus target, and of their instruction tokens never
    anywhere in the corpus (the tiny tokenizer's ids)."""
    from collections import Counter

    from crabplus.data.tokenizer import build_tiny_tokenizer

    tok = build_tiny_tokenizer()

    def ids(text: str) -> list[int]:
        return tok(text, add_special_tokens=False)["input_ids"]

    corpus = _corpus_records(corpus_root)
    in_targets = {i for r in corpus for i in ids(r.target)}
    anywhere = in_targets | {i for r in corpus for i in ids(r.instruction)}
    targets = Counter(i for r in _task_records(task_root) for i in ids(r.target))
    instructions = Counter(i for r in _task_records(task_root) for i in ids(r.instruction))
    return {
        "target": sum(c for i, c in targets.items() if i not in in_targets) / sum(targets.values()),
        "instruction": sum(c for i, c in instructions.items() if i not in anywhere) / sum(instructions.values()),
    }


@pytest.mark.integration
def test_a_fifth_of_the_corpus_already_trains_every_answer_token_of_the_19_datasets(tmp_path, all19):
    """The copying exercises walk the word list so that a fifth of the default corpus already writes every token
    the 19 datasets' answers use; of their instruction tokens, a capitalised word or two comes only at the full
    size (the slow test: 0 and 0 there)."""
    from crabplus.experiments.base import corpus_clips
    from crabplus.synth.pretrain import generate_corpus

    generate_corpus(tmp_path, SynthConfig(per_dataset=4, image_size=56), corpus_clips(0.2), workers=2)
    share = unseen_token_share(tmp_path, all19)
    assert share["target"] == 0.0 and share["instruction"] < 0.005


@pytest.mark.slow
def test_no_token_of_the_demo_datasets_is_unseen_by_the_shipped_corpus(tmp_path):
    """At the shipped base's corpus size and the demo's 100 clips per dataset (a few minutes)."""
    from crabplus.experiments.base import BaseConfig, corpus_clips
    from crabplus.synth import generate
    from crabplus.synth.pretrain import generate_corpus

    base = BaseConfig()
    generate_corpus(tmp_path / "corpus", base.synth, corpus_clips(base.corpus_scale), workers=2)
    generate(tmp_path / "data", SynthConfig(per_dataset=100, image_size=56, workers=2), progress=False)
    assert unseen_token_share(tmp_path / "corpus", tmp_path / "data") == {"target": 0.0, "instruction": 0.0}
