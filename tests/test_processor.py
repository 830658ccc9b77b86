"""The processor end to end on real files: vision input side by side with transformers' image processor,
placeholder counts, the chat layout and loss span of the release, and a tiny thinker that accepts it all."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from helpers.media import sine, write_clip, write_png, write_wav
from transformers import Qwen2VLImageProcessor

from crabplus.data.collate import collate
from crabplus.data.processor import CrabProcessor, conversation, render_chat
from crabplus.data.tokenizer import build_tiny_tokenizer
from crabplus.data.vision import VisionGeometry, vision_input
from crabplus.model.presets import build_thinker_config, preset_dims
from crabplus.schema.records import RecordError, record_from_json
from crabplus.schema.registry import DATASETS, SYSTEM_PROMPT
from crabplus.schema.tokens import special_token_ids


@pytest.fixture(scope="module")
def tok():
    return build_tiny_tokenizer()


@pytest.fixture(scope="module")
def config(tok):
    return build_thinker_config(preset_dims("tiny"), len(tok), special_token_ids(tok))


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    d = tmp_path_factory.mktemp("root")
    write_clip(d / "ten.mp4", seconds=10.0, fps=3, width=64, height=48)
    write_clip(d / "two.mp4", seconds=2.0, fps=10, width=80, height=60, channels=1, freq=880.0)
    write_wav(d / "ten.wav", sine(10.0, 16000), 16000)
    write_wav(d / "five.wav", sine(5.0, 22050, channels=2), 22050)
    write_png(d / "frame.png", np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8))
    return d


@pytest.fixture(scope="module")
def proc(tok, config, tmp_path_factory):
    """The tiny demo's processor (56 px); its cache makes the tests that re-encode the same records cheap."""
    return CrabProcessor(tok, config, image_size=56, cache_dir=tmp_path_factory.mktemp("cache"))


def record(dataset: str, media: dict, rid: str = "r0", target: str = "A drum. <answer>x</answer>", **answer):
    spec = DATASETS[dataset]
    answer = answer or {"label": "x"}
    return record_from_json(
        {
            "id": rid,
            "dataset": dataset,
            "task": spec.task,
            "split": "train",
            "media": media,
            "instruction": spec.instruction.format(question="Q?", options="['a']", expression="the dog"),
            "answer": answer,
            "target": target,
        }
    )


RECORDS = {
    "ks": (dict(video="ten.mp4", audio="ten.wav"), {"label": "x"}),
    "meld": (dict(video="two.mp4"), {"label": "x"}),
    "a2v": (dict(video="ten.mp4", video2="two.mp4", audio="ten.wav"), {"choice": 1}),
    "v2a": (dict(video="two.mp4", audio="ten.wav", audio2="ten.mp4"), {"choice": 2}),
    "avqa": (dict(video="ten.mp4", audio="ten.wav"), {"text": "two"}),
    "s4": (
        dict(image="frame.png", audio="five.wav", audio_window_index=2),
        {"label": "x", "box": [1, 2, 30, 40], "points": [[5, 5]]},
    ),
    "ref_avs": (dict(video="ten.mp4", frame_second=4.5, audio_window_index=4), {"exists": False}),
}


def make(dataset: str, rid: str | None = None, **kw):
    media, answer = RECORDS[dataset]
    return record(dataset, dict(media), rid or dataset, **kw, **answer)


# ------------------------------------------------------------------------------------------ vision


@pytest.mark.parametrize("size", [224, 56])
def test_two_frame_video_of_one_image_equals_the_image_processor(size):
    image = np.random.default_rng(size).integers(0, 256, (size, size, 3), dtype=np.uint8)
    ref = Qwen2VLImageProcessor()(images=[image], return_tensors="pt")
    video, grid = vision_input(np.stack([image, image]), VisionGeometry())
    assert torch.equal(video, ref["pixel_values"]) and torch.equal(grid, ref["image_grid_thw"])
    single, _ = vision_input(image[None], VisionGeometry())  # an image item: one frame repeated in time
    assert torch.equal(single, ref["pixel_values"])


def test_video_patches_keep_each_frame_in_its_temporal_slot():
    rng = np.random.default_rng(1)
    a, b = (rng.integers(0, 256, (56, 56, 3), dtype=np.uint8) for _ in range(2))
    proc = Qwen2VLImageProcessor()
    ra, rb = (proc(images=[x], return_tensors="pt")["pixel_values"].reshape(-1, 3, 2, 14, 14) for x in (a, b))
    video, grid = vision_input(np.stack([a, b]), VisionGeometry())
    video = video.reshape(-1, 3, 2, 14, 14)  # [patches, C, tps, ps, ps]
    assert grid.tolist() == [[1, 4, 4]]
    assert torch.equal(video[:, :, 0], ra[:, :, 0]) and torch.equal(video[:, :, 1], rb[:, :, 0])


# ------------------------------------------------------------------------------------------ encoding


def _count(sample, token_id):
    return int((sample["input_ids"] == token_id).sum())


def test_placeholders_expand_to_the_release_token_counts(tok, root):
    # the released models' 10 ms mel hop and 14-px patches merged 2 x 2 (the tiny preset's are 20 ms and 7 px, 4 x 4)
    released_audio = replace(preset_dims("tiny"), mel_hop_length=160, patch_size=14, spatial_merge_size=2)
    config = build_thinker_config(released_audio, len(tok), special_token_ids(tok))
    proc = CrabProcessor(tok, config, image_size=224)
    merged = config.vision_config.spatial_merge_size**2  # patches per LLM token
    ids = special_token_ids(tok)
    expected = {  # (vision tokens, audio tokens), the release (docs/media.md)
        "ks": (320, 250),  # 10 frames -> grid (5, 16, 16); 10 s -> 1000 mel frames
        "meld": (128, 100),  # 4 frames; the first 4 s
        "a2v": (640, 250),  # two 10-frame clips joined: one 20-frame video
        "v2a": (320, None),  # two audios joined: ~20 s
        "s4": (64, 25),  # one 224 px image; one fifth of a 5 s clip
        "ref_avs": (64, 25),  # the frame at 4.5 s of a video; one tenth of its 10 s track
    }
    for name, (n_vision, n_audio) in expected.items():
        sample = proc.encode(make(name), root, with_target=True)
        vision_key = "image" if DATASETS[name].visual == "image" else "video"
        grid = sample["image_grid_thw" if vision_key == "image" else "video_grid_thw"]
        assert _count(sample, ids[vision_key]) == n_vision == int(grid.prod()) // merged, name
        frames = sample["input_features"].shape[-1]
        assert sample["input_features"].shape == (1, 128, frames) and sample["feature_attention_mask"].sum() == frames
        assert _count(sample, ids["audio"]) == ((frames - 1) // 2 + 1 - 2) // 2 + 1
        if n_audio is not None:
            assert _count(sample, ids["audio"]) == n_audio, name
    v2a = proc.encode(make("v2a"), root, with_target=True)
    assert 495 <= _count(v2a, ids["audio"]) <= 505  # 10 s WAV + 10 s AAC track, windowed and joined
    ks = proc.encode(make("ks"), root, with_target=True)
    assert ks["pixel_values_videos"].shape == (5 * 16 * 16, 3 * 2 * 14 * 14)
    assert ks["video_second_per_grid"].tolist() == [2.0]  # 1 fps assumed: a grid of 2 frames is 2 s


def test_the_tiny_presets_20ms_hop_halves_the_audio_tokens(tok, config, proc, root):
    assert config.audio_config.mel_hop_length == 320 and proc.mel_hop == 320
    ks = proc.encode(make("ks"), root, with_target=True)
    assert ks["input_features"].shape == (1, 128, 500)  # 10 s at 50 frames per second
    assert _count(ks, special_token_ids(tok)["audio"]) == 125 == ((500 - 1) // 2 + 1 - 2) // 2 + 1


def test_chat_layout_and_loss_span(tok, proc, root):
    rec = make("ks", target="I hear drums. <answer>playing drums</answer>")
    sample = proc.encode(rec, root, with_target=True)
    ids, labels = sample["input_ids"], sample["labels"]
    text = tok.decode(ids)
    video = "<|VIDEO|>" * _count(sample, tok.video_token_id)
    audio = "<|AUDIO|>" * _count(sample, tok.audio_token_id)
    assert text == (
        f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\nThis is a video and an audio:"
        f"<|vision_bos|>{video}<|vision_eos|><|audio_bos|>{audio}<|audio_eos|>"
        f"{DATASETS['ks'].instruction}<|im_end|>\n<|im_start|>assistant\n"
        f"I hear drums. <answer>playing drums</answer><|im_end|>\n"
    )
    supervised = labels != -100
    assert tok.decode(ids[supervised]) == "\nI hear drums. <answer>playing drums</answer><|im_end|>"
    span = supervised.nonzero().flatten()
    assert span.tolist() == list(range(span[0], span[-1] + 1))  # one contiguous span
    assert not supervised[-1]  # the trailing "\n" is not supervised
    assert torch.equal(labels[supervised], ids[supervised])
    # the same text as the tokenizer's chat template, before expansion
    assert render_chat(conversation(rec, with_target=True), add_generation_prompt=False) == tok.apply_chat_template(
        conversation(rec, with_target=True), tokenize=False
    )
    prompt = proc.encode(rec, root, with_target=False)
    assert "labels" not in prompt and tok.decode(prompt["input_ids"]).endswith("<|im_start|>assistant\n")
    assert torch.equal(prompt["input_ids"], ids[: len(prompt["input_ids"])])


def test_media_order_of_the_matching_tasks(tok, proc, root):
    ids = special_token_ids(tok)
    a2v = proc.encode(make("a2v"), root, with_target=False)["input_ids"].tolist()
    assert a2v.index(ids["audio"]) < a2v.index(ids["video"])  # a2v: audio first, then the joined video
    assert a2v.count(ids["vision_bos"]) == 1 and a2v.count(ids["audio_bos"]) == 1
    v2a = proc.encode(make("v2a"), root, with_target=False)["input_ids"].tolist()
    assert v2a.index(ids["video"]) < v2a.index(ids["audio"]) and v2a.count(ids["audio_bos"]) == 1
    assert "These are two videos and an audio:" in tok.decode(a2v)
    assert "This is a video and two audio clips:" in tok.decode(v2a)


def test_record_problems_name_the_record_and_field(tok, proc, root):
    no_audio = record("a2v", {"video": "ten.mp4", "video2": "two.mp4"}, "a2v-1", choice=1)
    with pytest.raises(RecordError, match=r"a2v-1.*media\.audio"):
        proc.encode(no_audio, root, with_target=True)
    bad_index = record(
        "s4",
        {"image": "frame.png", "audio": "five.wav", "audio_window_index": 5},
        "s4-9",
        label="x",
        box=[1, 2, 3, 4],
        points=[[1, 1]],
    )
    with pytest.raises(RecordError, match=r"s4-9.*audio_window_index"):
        proc.encode(bad_index, root, with_target=True)


def test_processor_refuses_a_mismatched_config(tok, config):
    other = build_thinker_config(preset_dims("tiny"), len(tok), {**special_token_ids(tok), "video": 42})
    with pytest.raises(ValueError, match="video_token_id=42"):
        CrabProcessor(tok, other)
    with pytest.raises(ValueError, match="multiple of"):
        CrabProcessor(tok, config, image_size=100)


# ------------------------------------------------------------------------------------------ batches + model


def test_collate_pads_left_for_generation_and_right_for_training(tok, proc, root):
    train = [proc.encode(make(n), root, with_target=True) for n in ("ks", "s4")]
    pad = proc.pad_id
    right = collate(train, pad, "right")
    lengths = [len(s["input_ids"]) for s in train]
    width = max(lengths)
    assert right["input_ids"].shape == right["labels"].shape == (2, width)
    short = int(np.argmin(lengths))
    assert (right["input_ids"][short, lengths[short] :] == pad).all()
    assert (right["labels"][short, lengths[short] :] == -100).all()
    assert right["attention_mask"].sum(1).tolist() == lengths
    assert right["pixel_values_videos"].shape[0] == train[0]["pixel_values_videos"].shape[0]
    assert right["pixel_values"].shape[0] == train[1]["pixel_values"].shape[0]
    frames = [s["input_features"].shape[-1] for s in train]
    assert right["input_features"].shape == (2, 128, max(frames))
    assert right["feature_attention_mask"].sum(1).tolist() == frames
    assert right["id"] == ["ks", "s4"] and right["dataset"] == ["ks", "s4"]
    left = collate([proc.encode(make(n), root, with_target=False) for n in ("ks", "s4")], pad, "left")
    assert "labels" not in left and (left["attention_mask"][:, -1] == 1).all()
    with pytest.raises(ValueError, match="labels"):
        collate([train[0], proc.encode(make("s4"), root, with_target=False)], pad, "right")


def test_tiny_thinker_accepts_every_vision_layout(config, proc, root):
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    torch.manual_seed(0)
    model = Qwen2_5OmniThinkerForConditionalGeneration(config).eval()
    names = ["a2v", "s4", "ref_avs"]  # a joined video with audio first, an image file, a frame of a video
    batch = collate([proc.encode(make(n), root, with_target=True) for n in names], proc.pad_id, "right")
    tensors = {k: v for k, v in batch.items() if torch.is_tensor(v)}
    with torch.no_grad():
        loss = model(**tensors).loss  # splicing checks every placeholder count against the encoders
    assert torch.isfinite(loss)
    # left padding for generation: a short prompt's next-token logits are those it has alone
    prompts = [proc.encode(make(n), root, with_target=False) for n in ("s4", "ks")]
    left = {k: v for k, v in collate(prompts, proc.pad_id, "left").items() if torch.is_tensor(v)}
    alone = {k: v for k, v in collate(prompts[:1], proc.pad_id, "left").items() if torch.is_tensor(v)}
    assert left["attention_mask"][0].sum() < left["attention_mask"].shape[1]  # s4 really is padded
    with torch.no_grad():
        padded = model(**left).logits[0, -1]
        single = model(**alone).logits[0, -1]
    torch.testing.assert_close(padded, single, atol=1e-4, rtol=1e-4)
