"""The official Crab+ release's adapter layout, and a strict loader (the release; docs/model.md).

The release saves, per adapted module, ``<path>.lora_A.weight`` [r, d_in], ``<path>.lora_B{i}.weight``
[d_out, r] for i = 0..N-1 and ``<path>.lora_route.weight`` [N, d_in], behind PEFT's prefix
``base_model.model.``; ``<path>`` is the module's path in the release's thinker (transformers 4.51).
transformers 5.24 renamed the thinker's submodules, so release paths are mapped onto ours:

    model.layers.N…   -> model.language_model.layers.N…     (the LLM)
    audio_tower.…     -> model.audio_tower.…
    visual.…          -> model.visual.…
    thinker.<path>    -> <path>   (listings of the full Omni model carry this prefix)

Our layout stacks the heads: ``<path>.lora_B.weight`` = [B_0 … B_{N-1}] of shape [d_out, N r].

The release loads with ``strict=False`` and silently ignores a missing or misnamed key; every loader here
checks the full key set and every shape and raises :class:`AdapterLoadError` listing what is wrong.
"""

from __future__ import annotations

import re
from collections import Counter

import torch
from torch import nn

from crabplus.adapters.apply import adapter_state_dict, ilora_layers
from crabplus.adapters.config import AdapterLoadError

PEFT_PREFIX = "base_model.model."
OFFICIAL_KEY = re.compile(r"^(?P<path>.+)\.lora_(?P<part>A|route|B(?P<head>\d+))\.weight$")

#: Release thinker path -> transformers 5.24 thinker path, applied in order.
RELEASE_TO_OURS: tuple[tuple[str, str], ...] = (
    (r"^thinker\.", ""),
    (r"^model\.layers\.", "model.language_model.layers."),
    (r"^audio_tower\.", "model.audio_tower."),
    (r"^visual\.", "model.visual."),
)
OURS_TO_RELEASE: tuple[tuple[str, str], ...] = (
    (r"^model\.language_model\.layers\.", "model.layers."),
    (r"^model\.audio_tower\.", "audio_tower."),
    (r"^model\.visual\.", "visual."),
)

#: The release with its encoders adapted: 388 modules x (A, B0, B1, B2, route).
RELEASE_TENSOR_COUNT = 1940


def rename_path(path: str, rules: tuple[tuple[str, str], ...]) -> str:
    for pattern, repl in rules:
        path = re.sub(pattern, repl, path)
    return path


def _listing(title: str, items: list[str], limit: int = 12) -> str:
    shown = "\n    ".join(items[:limit])
    more = f"\n    … and {len(items) - limit} more" if len(items) > limit else ""
    return f"  {title} ({len(items)}):\n    {shown}{more}"


def _raise(source: str, missing: list[str], unexpected: list[str], wrong: list[str]) -> None:
    if missing or unexpected or wrong:
        parts = [f"{source}: adapter weights do not fit the model"]
        if missing:
            parts.append(_listing("missing keys", missing))
        if unexpected:
            parts.append(_listing("unexpected keys", unexpected))
        if wrong:
            parts.append(_listing("wrong shapes", wrong))
        raise AdapterLoadError("\n".join(parts))


def official_to_native(
    state: dict[str, torch.Tensor],
    known_paths: set[str] | None = None,
    num_experts: int | None = None,
    source: str = "state dict",
) -> tuple[dict[str, torch.Tensor], int]:
    """Release-layout tensors -> our layout (paths mapped, heads stacked). Returns (state, N).

    A path found in ``known_paths`` (the adapted modules of the model being loaded) is kept as is;
    any other path goes through the release -> transformers 5.24 renames, and one still unknown is
    unexpected. ``known_paths=None`` (the ``convert`` command: the release file is always a thinker)
    renames and accepts every path. ``num_experts`` defaults to the head count most modules have.
    Keys outside the layout, a module without its A, route or a head, or heads that disagree in count
    or shape are an :class:`AdapterLoadError`.
    """
    modules: dict[str, dict[str, torch.Tensor]] = {}
    unexpected = []
    for key, tensor in state.items():
        if not isinstance(tensor, torch.Tensor):
            unexpected.append(f"{key} (not a tensor: {type(tensor).__name__})")
            continue
        match = OFFICIAL_KEY.match(key.removeprefix(PEFT_PREFIX))
        if match is None:
            unexpected.append(key)
            continue
        path = match["path"]
        if known_paths is None or path not in known_paths:
            path = rename_path(path, RELEASE_TO_OURS)
            if known_paths is not None and path not in known_paths:
                unexpected.append(key)
                continue
        part = match["part"]
        if part in modules.setdefault(path, {}):
            unexpected.append(f"{key} (a second copy of {path}.lora_{part})")
        modules[path][part] = tensor
    if num_experts is None:
        counts = Counter(sum(p.startswith("B") for p in parts) for parts in modules.values())
        num_experts = counts.most_common(1)[0][0] if counts else 0
    missing, wrong = [], []
    native = {}
    for path, parts in sorted(modules.items()):
        need = ["A", "route", *(f"B{i}" for i in range(num_experts))]
        missing += [f"{path}.lora_{p}.weight" for p in need if p not in parts]
        unexpected += [f"{path}.lora_{p}.weight" for p in parts if p not in need]
        if any(p not in parts for p in need):
            continue
        a, route, heads = parts["A"], parts["route"], [parts[f"B{i}"] for i in range(num_experts)]
        if a.dim() != 2:
            wrong.append(f"{path}: lora_A {tuple(a.shape)} (want [r, d_in])")
            continue
        rank, d_in = a.shape
        problems = []
        if route.shape != (num_experts, d_in):
            problems.append(f"lora_route {tuple(route.shape)} != ({num_experts}, {d_in})")
        problems += [
            f"lora_B{i} {tuple(b.shape)} (want [d_out, {rank}])"
            for i, b in enumerate(heads)
            if b.dim() != 2 or b.shape[1] != rank or b.shape != heads[0].shape
        ]
        if problems:
            wrong.append(f"{path}: A {tuple(a.shape)}, " + "; ".join(problems))
            continue
        native[f"{path}.lora_A.weight"] = a
        native[f"{path}.lora_B.weight"] = torch.cat(heads, dim=1)  # N x [d_out, r] -> [d_out, N r]
        native[f"{path}.lora_route.weight"] = route
    _raise(source, missing, unexpected, wrong)
    if not native:
        raise AdapterLoadError(f"{source}: no I-LoRA tensors (….lora_A/lora_B<i>/lora_route.weight) found")
    return native, num_experts


def load_native_state(model: nn.Module, state: dict[str, torch.Tensor], source: str = "state dict") -> None:
    """Load our-layout adapter tensors into ``model``, requiring exactly its adapter keys and shapes."""
    expected = adapter_state_dict(model)
    if not expected:
        raise AdapterLoadError(f"{source}: the model has no adapter layers (apply_ilora first)")
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        f"{k}: model {tuple(expected[k].shape)}, file {tuple(state[k].shape)}"
        for k in sorted(set(state) & set(expected))
        if expected[k].shape != state[k].shape
    ]
    _raise(source, missing, unexpected, wrong)
    model.load_state_dict(state, strict=False)  # every adapter key checked above; base keys stay


def load_official_ilora(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> None:
    """Load adapter weights saved in the release's layout into a model already given I-LoRA layers
    (:func:`~crabplus.adapters.apply_ilora` with the release's N). Missing or unexpected keys, or a
    wrong shape, raise :class:`AdapterLoadError` listing them."""
    layers = dict(ilora_layers(model))
    if not layers:
        raise AdapterLoadError("load_official_ilora: the model has no I-LoRA layers (apply_ilora first)")
    num_experts = next(iter(layers.values())).num_experts
    native, _ = official_to_native(state_dict, set(layers), num_experts, source="load_official_ilora")
    load_native_state(model, native, source="load_official_ilora")


def export_official_ilora(model: nn.Module, release_paths: bool = True) -> dict[str, torch.Tensor]:
    """The model's I-LoRA weights in the release's layout (``base_model.model.<path>.lora_B{i}.weight``
    …), e.g. for the release's own inference code. ``release_paths`` maps transformers 5.24 thinker
    paths back to the release's; a path outside the thinker's naming is kept as is."""
    out = {}
    for name, layer in ilora_layers(model):
        path = PEFT_PREFIX + (rename_path(name, OURS_TO_RELEASE) if release_paths else name)
        out[f"{path}.lora_A.weight"] = layer.lora_A.weight.detach().clone()
        for i, head in enumerate(layer.lora_B.weight.detach().split(layer.rank, dim=1)):
            out[f"{path}.lora_B{i}.weight"] = head.contiguous().clone()
        out[f"{path}.lora_route.weight"] = layer.lora_route.weight.detach().clone()
    return out
