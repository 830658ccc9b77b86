"""Optimizer/RNG state <-> safetensors + JSON, and the atomic checkpoint folders."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from crabplus.train import checkpoint as ckpt
from crabplus.train.state import StateError, flatten, load_state, rng_state, save_state, set_rng_state, unflatten


def _adamw_state() -> dict:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95))
    for _ in range(2):
        model(torch.randn(5, 4)).pow(2).sum().backward()
        opt.step()
    return opt.state_dict()


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def test_optimizer_state_round_trips_bit_exactly(tmp_path):
    state = _adamw_state()
    assert isinstance(next(iter(state["state"])), int)  # keys are ints: kept as ints
    save_state(tmp_path, "optimizer", state)
    back = load_state(tmp_path, "optimizer")
    assert _equal(state, back)
    # the files are safetensors + JSON, no pickle
    assert load_file(str(tmp_path / "optimizer.safetensors"))
    json.loads((tmp_path / "optimizer.json").read_text())
    # and the optimizer accepts it
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    torch.optim.AdamW(model.parameters(), lr=1e-3).load_state_dict(back)


def test_special_values_and_containers_round_trip():
    obj = {
        "inf": float("inf"),
        "nan_free": -0.5,
        "t": (1, "a", None),
        "nested": [{"x": torch.arange(3)}],
        "__odd": 1,
        3: "int key",
        "arr": np.arange(4, dtype=np.uint32),
    }
    tensors, skeleton = flatten(obj)
    back = unflatten(tensors, json.loads(json.dumps(skeleton)))
    assert back["inf"] == float("inf") and back[3] == "int key" and back["__odd"] == 1
    assert back["t"] == (1, "a", None) and torch.equal(back["nested"][0]["x"], torch.arange(3))
    assert np.array_equal(back["arr"], np.arange(4, dtype=np.uint32))


def test_objects_that_are_not_data_are_refused_with_their_path():
    with pytest.raises(StateError, match="/a/1"):
        flatten({"a": [1, object()]})


def test_rng_state_restores_every_generator(tmp_path):
    torch.manual_seed(1)
    random.seed(1)
    np.random.seed(1)
    save_state(tmp_path, "rng", rng_state())
    first = (torch.rand(3), random.random(), np.random.rand())
    set_rng_state(load_state(tmp_path, "rng"))
    second = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(first[0], second[0]) and first[1:] == second[1:]


def test_checkpoint_commit_is_whole_or_absent_and_rotates(tmp_path):
    for step in (2, 4, 6):
        tmp = ckpt.begin(tmp_path, step)
        (tmp / "payload.txt").write_text(str(step))
        ckpt.commit(tmp_path, step, {"step": step}, keep=2)
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path)] == [4, 6]
    # a save killed half-way leaves only a temp folder, which is not a checkpoint
    half = ckpt.begin(tmp_path, 8)
    (half / "payload.txt").write_text("8")
    assert ckpt.last_checkpoint(tmp_path) == tmp_path / "checkpoint-6"
    assert ckpt.read_state(tmp_path / "checkpoint-6") == {"step": 6}
    # the next save starts from a clean temp folder
    fresh = ckpt.begin(tmp_path, 8)
    assert list(fresh.iterdir()) == [] and list(tmp_path.glob(".tmp-*")) == [fresh]
    with pytest.raises(ckpt.CheckpointError, match="not a complete training checkpoint"):
        ckpt.read_state(tmp_path / ".tmp-checkpoint-8")
