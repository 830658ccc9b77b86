"""Nested training state (optimizer, RNG) <-> one safetensors file plus a JSON skeleton.

Why: resume needs the optimizer's moments and the random generators exactly, and we write no
pickles (docs/architecture.md). A state is any tree of dicts, lists, tuples, tensors, numpy arrays and JSON
scalars; :func:`flatten` moves every tensor into a flat ``{path: tensor}`` map (what safetensors
stores) and leaves a JSON skeleton that points at them; :func:`unflatten` rebuilds the tree
bit for bit. Anything else (an arbitrary object) is an error naming its path in the tree.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from crabplus.utils.errors import CrabplusError
from crabplus.utils.io import read_json, read_safetensors


class StateError(CrabplusError, ValueError):
    """A training state cannot be flattened or a saved one does not match."""


def _scalar(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    return value


def flatten(obj: Any) -> tuple[dict[str, torch.Tensor], Any]:
    """``(tensors, skeleton)``: tensors keyed by their path, the rest as JSON-able data."""
    tensors: dict[str, torch.Tensor] = {}

    def walk(node: Any, path: str) -> Any:
        if isinstance(node, torch.Tensor):
            # detach + contiguous + clone: safetensors refuses views and shared storage.
            tensors[path] = node.detach().cpu().contiguous().clone()
            return {"__tensor__": path}
        if isinstance(node, np.ndarray):
            tensors[path] = torch.from_numpy(np.ascontiguousarray(node).copy())
            return {"__ndarray__": path}
        if isinstance(node, dict):
            if all(isinstance(k, str) for k in node) and not any(k.startswith("__") for k in node):
                return {k: walk(v, f"{path}/{k}") for k, v in node.items()}
            # Optimizer states are keyed by int; keep the key's type.
            return {"__items__": [[k, walk(v, f"{path}/{k}")] for k, v in node.items()]}
        if isinstance(node, tuple):
            return {"__tuple__": [walk(v, f"{path}/{i}") for i, v in enumerate(node)]}
        if isinstance(node, list):
            return [walk(v, f"{path}/{i}") for i, v in enumerate(node)]
        if node is None or isinstance(node, bool | int | float | str):
            return _scalar(node)
        if isinstance(node, np.generic):
            return _scalar(node.item())
        raise StateError(f"cannot store {type(node).__name__} at {path or '/'} in a safetensors state")

    skeleton = walk(obj, "")
    return tensors, skeleton


def unflatten(tensors: dict[str, torch.Tensor], skeleton: Any) -> Any:
    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        if "__tensor__" in node:
            return _take(node["__tensor__"])
        if "__ndarray__" in node:
            return _take(node["__ndarray__"]).numpy()
        if "__tuple__" in node:
            return tuple(walk(v) for v in node["__tuple__"])
        if "__items__" in node:
            return {k: walk(v) for k, v in node["__items__"]}
        if "__float__" in node:
            return float(node["__float__"])
        return {k: walk(v) for k, v in node.items()}

    def _take(path: str) -> torch.Tensor:
        if path not in tensors:
            raise StateError(f"saved state is missing tensor {path!r}")
        return tensors[path]

    return walk(skeleton)


def save_state(directory: str | Path, name: str, obj: Any) -> None:
    """Write ``name.safetensors`` and ``name.json`` in ``directory`` (a checkpoint being built)."""
    directory = Path(directory)
    tensors, skeleton = flatten(obj)
    save_file(tensors, str(directory / f"{name}.safetensors"))
    (directory / f"{name}.json").write_text(json.dumps(skeleton), encoding="utf-8")


def load_state(directory: str | Path, name: str) -> Any:
    directory = Path(directory)
    st, js = directory / f"{name}.safetensors", directory / f"{name}.json"
    for path in (st, js):
        if not path.is_file():
            raise StateError(f"checkpoint file missing: {path}")
    skeleton = read_json(js, StateError)
    return unflatten(read_safetensors(st, StateError), skeleton)


# --------------------------------------------------------------------------------------------
# random generators
# --------------------------------------------------------------------------------------------


def rng_state() -> dict[str, Any]:
    """Every generator a training step may draw from (dropout, data code using ``random``)."""
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": np.random.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys, pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
