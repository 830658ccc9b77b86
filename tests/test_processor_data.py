"""RecordDataset (errors naming file and record, or skip-and-count) and the on-disk media cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.media import write_clip

from crabplus.data.cache import MediaCache
from crabplus.data.collate import collate
from crabplus.data.dataset import RecordDataset
from crabplus.data.media import MediaError
from crabplus.data.processor import CrabProcessor
from crabplus.data.tokenizer import build_tiny_tokenizer
from crabplus.model.presets import build_thinker_config, preset_dims
from crabplus.schema.records import record_from_json
from crabplus.schema.registry import DATASETS
from crabplus.schema.tokens import special_token_ids


@pytest.fixture(scope="module")
def parts():
    tok = build_tiny_tokenizer()
    return tok, build_thinker_config(preset_dims("tiny"), len(tok), special_token_ids(tok))


def _ks(rid: str, video: str) -> object:
    return record_from_json(
        {
            "id": rid,
            "dataset": "ks",
            "task": "action",
            "split": "train",
            "media": {"video": video},
            "instruction": DATASETS["ks"].instruction,
            "answer": {"label": "x"},
            "target": "<answer>x</answer>",
        }
    )


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    write_clip(d / "good.mp4", seconds=1.0, fps=4, width=32, height=32)
    write_clip(d / "silent.mp4", seconds=1.0, fps=4, width=32, height=32, audio=False)
    (d / "empty.mp4").write_bytes(b"")
    return d


def test_bad_media_raises_naming_file_and_record(parts, root):
    proc = CrabProcessor(*parts, image_size=28)
    ds = RecordDataset([_ks("ok", "good.mp4"), _ks("mute", "silent.mp4")], proc, root)
    assert ds[0]["id"] == "ok" and "labels" in ds[0]
    with pytest.raises(MediaError) as err:
        ds[1]
    assert err.value.kind == "no_audio"
    assert str(root / "silent.mp4") in str(err.value) and "'mute'" in str(err.value)


def test_skip_bad_skips_counts_and_reports(parts, root):
    proc = CrabProcessor(*parts, image_size=28)
    records = [
        _ks("a", "good.mp4"),
        _ks("gone", "missing.mp4"),
        _ks("mute", "silent.mp4"),
        _ks("zero", "empty.mp4"),
        _ks("b", "good.mp4"),
    ]
    ds = RecordDataset(records, proc, root, with_target=False, skip_bad=True)
    samples = [ds[i] for i in range(len(ds))]
    assert [s["id"] for s in samples] == ["a", "b", "b", "b", "b"]  # each bad one replaced by the next good one
    assert all("labels" not in s for s in samples)
    assert dict(ds.skipped) == {"missing": 1, "no_audio": 1, "empty": 1}
    assert ds.skip_report() == {
        "count": 3,
        "by_reason": {"missing": 1, "no_audio": 1, "empty": 1},
        "ids": {"missing": ["gone"], "no_audio": ["mute"], "empty": ["zero"]},
    }
    assert [e[0] for e in samples[1]["skipped"]] == ["gone", "mute", "zero"]  # carried for data-loader workers
    assert "skipped" not in samples[2]  # known bad records are passed over without counting them again
    batch = collate(samples[:2], proc.pad_id, "left")
    assert [e[1] for e in batch["skipped"]] == ["missing", "no_audio", "empty"]
    all_bad = RecordDataset([_ks("x", "silent.mp4")], proc, root, skip_bad=True)
    with pytest.raises(MediaError, match="every one of the 1 records"):
        all_bad[0]


def test_cache_hits_equal_fresh_results_and_follow_file_content(parts, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    write_clip(root / "v.mp4", seconds=1.0, fps=4, width=32, height=32)
    fresh = CrabProcessor(*parts, image_size=28)
    cached = CrabProcessor(*parts, image_size=28, cache_dir=tmp_path / "cache")
    rec = _ks("k", "v.mp4")
    first = cached.encode(rec, root, with_target=True)
    assert (cached.cache.hits, cached.cache.misses) == (0, 2)  # frames + log-mel
    second = cached.encode(rec, root, with_target=True)
    assert (cached.cache.hits, cached.cache.misses) == (2, 2)
    reference = fresh.encode(rec, root, with_target=True)
    for key, value in reference.items():
        if torch.is_tensor(value):
            assert torch.equal(first[key], value) and torch.equal(second[key], value), key
    entries = sorted((tmp_path / "cache").rglob("*.npy"))
    assert len(entries) == 2 and all(np.load(e, allow_pickle=False).size for e in entries)
    # new content under the same name: a new key, never the stale entry
    write_clip(root / "v.mp4", seconds=1.0, fps=4, width=32, height=32, freq=1000.0)
    again = CrabProcessor(*parts, image_size=28, cache_dir=tmp_path / "cache")
    changed = again.encode(rec, root, with_target=True)
    assert again.cache.misses == 2 and not torch.equal(changed["input_features"], first["input_features"])
    # a damaged entry is recomputed and replaced
    for entry in (tmp_path / "cache").rglob("*.npy"):
        entry.write_bytes(b"not an array")
    repaired = CrabProcessor(*parts, image_size=28, cache_dir=tmp_path / "cache")
    out = repaired.encode(rec, root, with_target=True)
    assert repaired.cache.misses == 2 and torch.equal(out["input_features"], changed["input_features"])


def test_cache_key_depends_on_parameters(tmp_path):
    cache = MediaCache(tmp_path / "c")
    src = tmp_path / "f.bin"
    src.write_bytes(b"abc")
    calls = []

    def compute(v):
        calls.append(v)
        return np.full(3, v)

    assert cache.get_or_compute("k", [src], {"n": 1}, lambda: compute(1)).tolist() == [1, 1, 1]
    assert cache.get_or_compute("k", [src], {"n": 2}, lambda: compute(2)).tolist() == [2, 2, 2]
    assert cache.get_or_compute("k", [src], {"n": 1}, lambda: compute(9)).tolist() == [1, 1, 1]
    assert calls == [1, 2]
