"""Temperature-balanced sampling: the mixing rule, determinism, resumability, rank sharding."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crabplus.train.sampler import SamplerError, TaskBalancedSampler, mixing_weights, shard

SIZES = {"ks": 400, "ave": 100, "s4": 25}


def _groups(sizes: dict[str, int]) -> dict[str, list[int]]:
    groups, offset = {}, 0
    for name, n in sizes.items():
        groups[name] = list(range(offset, offset + n))
        offset += n
    return groups


def _take(sampler: TaskBalancedSampler, start: int, count: int):
    return list(itertools.islice(sampler.batches_from(start), count))


def test_mixing_weights_follow_size_to_the_one_over_t():
    assert mixing_weights(SIZES, 1.0) == pytest.approx({"ks": 400 / 525, "ave": 100 / 525, "s4": 25 / 525})
    # T = 2: square roots 20, 10, 5
    assert mixing_weights(SIZES, 2.0) == pytest.approx({"ks": 20 / 35, "ave": 10 / 35, "s4": 5 / 35})
    assert list(mixing_weights(SIZES, 1e6).values()) == pytest.approx([1 / 3] * 3, abs=1e-4)
    # an empty dataset takes no share; huge sizes do not overflow
    assert mixing_weights({"a": 0, "b": 5}, 1.0) == {"b": 1.0}
    assert sum(mixing_weights({"a": 10**12, "b": 1}, 0.01).values()) == pytest.approx(1.0)
    with pytest.raises(SamplerError):
        mixing_weights({"a": 0}, 1.0)


def test_balance_by_task_type_gives_every_task_the_same_share():
    sizes = {"ks": 400, "ucf": 100, "ave": 100, "meld": 50, "cremad": 50, "dfew": 50, "mafw": 50, "mer24": 50}
    task_of = {
        "ks": "action",
        "ucf": "action",
        "ave": "localization",
        **{d: "emotion" for d in ("meld", "cremad", "dfew", "mafw", "mer24")},
    }
    w = mixing_weights(sizes, 1.0, task_of)
    assert w == pytest.approx(
        {
            "ks": 1 / 3 * 400 / 500,
            "ucf": 1 / 3 * 100 / 500,
            "ave": 1 / 3,
            **{d: 1 / 15 for d in ("meld", "cremad", "dfew", "mafw", "mer24")},
        }
    )
    t2 = mixing_weights(sizes, 2.0, task_of)  # within a task type the temperature rule still applies
    assert t2["ks"] / t2["ucf"] == pytest.approx(2.0) and t2["ks"] + t2["ucf"] == pytest.approx(1 / 3)
    with pytest.raises(SamplerError, match=r"no task type for dataset\(s\) \['ucf'\]"):
        mixing_weights({"ks": 1, "ucf": 1}, 1.0, {"ks": "action"})
    by_dataset = TaskBalancedSampler(_groups(sizes), temperature=1.0, seed=0, samples_per_step=4)
    by_task = TaskBalancedSampler(_groups(sizes), temperature=1.0, seed=0, samples_per_step=4, task_of=task_of)
    assert by_task.probs.tolist() == pytest.approx([w[d] for d in by_task.names])
    with pytest.raises(SamplerError, match="sampling_balance"):  # a resume may not switch the mix
        by_task.check_state(by_dataset.state_dict(10))


def test_draw_frequencies_match_the_weights():
    sampler = TaskBalancedSampler(_groups(SIZES), temperature=2.0, seed=3, samples_per_step=16)
    names = [n for _, _, batch_names in _take(sampler, 0, 500) for n in batch_names]
    freq = {d: names.count(d) / len(names) for d in SIZES}
    for d, w in mixing_weights(SIZES, 2.0).items():
        assert freq[d] == pytest.approx(w, abs=0.03)


def test_indices_belong_to_their_dataset_and_cover_it_once_per_epoch():
    groups = _groups(SIZES)
    sampler = TaskBalancedSampler(groups, temperature=1e6, seed=0, samples_per_step=8)
    seen: dict[str, list[int]] = {d: [] for d in SIZES}
    for _, indices, names in _take(sampler, 0, 60):
        for i, d in zip(indices, names):
            assert i in groups[d]
            seen[d].append(i)
    # s4 (25 records) was drawn ~160 times: each full pass of 25 is a permutation of its records
    s4 = seen["s4"]
    assert len(s4) >= 75
    for epoch in range(len(s4) // 25):
        assert sorted(s4[epoch * 25 : (epoch + 1) * 25]) == groups["s4"]


def test_same_settings_same_stream_other_seed_other_stream():
    a = TaskBalancedSampler(_groups(SIZES), temperature=1.0, seed=1, samples_per_step=4)
    b = TaskBalancedSampler(_groups(SIZES), temperature=1.0, seed=1, samples_per_step=4)
    c = TaskBalancedSampler(_groups(SIZES), temperature=1.0, seed=2, samples_per_step=4)
    assert _take(a, 0, 20) == _take(b, 0, 20)
    assert _take(a, 0, 20) != _take(c, 0, 20)


def test_resuming_at_any_step_continues_the_same_stream():
    sampler = TaskBalancedSampler(_groups(SIZES), temperature=1.5, seed=7, samples_per_step=6)
    full = _take(sampler, 0, 120)
    for k in (1, 17, 50, 119):
        assert _take(sampler, k, 120 - k) == full[k:]


def test_saved_state_refuses_other_data_or_settings():
    sampler = TaskBalancedSampler(_groups(SIZES), temperature=1.0, seed=1, samples_per_step=4)
    state = sampler.state_dict(12)
    assert sampler.check_state(state) == 12
    for other in (
        TaskBalancedSampler(_groups(SIZES), temperature=2.0, seed=1, samples_per_step=4),
        TaskBalancedSampler(_groups(SIZES), temperature=1.0, seed=1, samples_per_step=8),
        TaskBalancedSampler(_groups({**SIZES, "s4": 26}), temperature=1.0, seed=1, samples_per_step=4),
    ):
        with pytest.raises(SamplerError, match="different training data"):
            other.check_state(state)


def test_empty_groups_are_an_error():
    with pytest.raises(SamplerError, match="no training records"):
        TaskBalancedSampler({"ks": []}, temperature=1.0, seed=0, samples_per_step=2)


@settings(max_examples=50, deadline=None)
@given(world=st.integers(1, 4), micro=st.integers(1, 3), per=st.integers(1, 4))
def test_shard_partitions_a_step_over_ranks_and_micro_batches(world, micro, per):
    indices = list(np.random.default_rng(0).permutation(world * micro * per))
    parts = [shard(indices, rank=r, world_size=world, micro_batches=micro) for r in range(world)]
    flat = [i for rank_parts in parts for mb in rank_parts for i in mb]
    assert sorted(flat) == sorted(indices)
    assert all(len(mb) == per for rank_parts in parts for mb in rank_parts)
    # one process with world×per samples per micro-batch sees the same micro-batch sets
    alone = shard(indices, rank=0, world_size=1, micro_batches=micro)
    for m in range(micro):
        assert sorted(alone[m]) == sorted(i for r in range(world) for i in parts[r][m])


def test_shard_refuses_an_uneven_split():
    with pytest.raises(SamplerError):
        shard(list(range(5)), rank=0, world_size=2, micro_batches=1)
