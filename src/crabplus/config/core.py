"""The config machinery: strict dataclass <- dict conversion, dotted overrides, YAML I/O.

Written by hand because the libraries that do this (OmegaConf, Hydra, tyro) bring their own
conventions and dependencies for ~150 lines of behaviour we want to be exact about: every error
names the dotted key, and a value is checked against the field's annotation (int, float, str,
bool, Literal, Optional, list[...], dict[...], nested dataclasses).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

from crabplus.utils.errors import CrabplusError, describe
from crabplus.utils.io import atomic_write_text

T = TypeVar("T")


class ConfigError(CrabplusError, ValueError):
    """A configuration value is unknown, missing or of the wrong type; the message names the key."""

    exit_code = 2


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Return ``value`` checked (and minimally converted) against annotation ``tp``."""
    if tp is Any:
        return value
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{key}: expected one of {list(allowed)}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        args = get_args(tp)
        item_tp = args[0] if args else Any
        items = [_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        k_tp, v_tp = get_args(tp) or (Any, Any)
        return {_coerce(k, k_tp, key): _coerce(v, v_tp, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, prefix=key)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads "3e-4" (no dot) as a string
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if not math.isfinite(value):  # YAML's .nan / .inf: no setting here means "not a number"
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    return value


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_dict(cls: type[T], data: dict[str, Any] | None, prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, strictly: unknown keys and wrong types are errors."""
    data = dict(data or {})
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{prefix}." if prefix else ""
        removed = getattr(cls, "REMOVED_KEYS", {})
        why = "".join(f"; {where}{u}: {removed[u]}" for u in unknown if u in removed)
        raise ConfigError(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(where + u for u in unknown)} "
            f"(known: {', '.join(sorted(fields))}){why}"
        )
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _coerce(value, hints[name], key)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{prefix or cls.__name__}: {exc}") from exc


def to_dict(cfg: Any) -> Any:
    """Plain data (dicts, lists, scalars) from a dataclass tree, for YAML/JSON."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, list | tuple):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {k: to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, Path):
        return str(cfg)
    return cfg


def parse_override(text: str, owner: str | None = None) -> tuple[list[str], Any]:
    """``"a.b.c=v"`` -> (["a", "b", "c"], parsed v). The value is read as YAML. ``owner``: the name of the
    settings class the key belongs to, for the error on a word that is not ``KEY=VALUE``."""
    if "=" not in text:
        if owner is not None:
            raise ConfigError(f"{text!r}: expected KEY=VALUE (a setting of {owner})")
        raise ConfigError(f"override {text!r}: expected KEY=VALUE, e.g. model.ilora.num_experts=4")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r}: empty key component")
    try:
        value = yaml.safe_load(raw) if raw.strip() != "" else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {key}: cannot parse value {raw!r}: {exc}") from exc
    return key.split("."), value


def apply_overrides(cfg: T, overrides: list[str] | None) -> T:
    """Return a copy of ``cfg`` with dotted overrides applied, validated like a fresh load."""
    data = to_dict(cfg)
    for text in overrides or []:
        path, value = parse_override(text, type(cfg).__name__)
        node = data
        for i, part in enumerate(path[:-1]):
            if not isinstance(node, dict) or part not in node:
                raise ConfigError(f"unknown key {'.'.join(path[: i + 1])}")
            if node[part] is None:
                node[part] = {}
            node = node[part]
        if not isinstance(node, dict) or path[-1] not in node:
            raise ConfigError(f"unknown key {'.'.join(path)}")
        node[path[-1]] = value
    return from_dict(type(cfg), data)


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader that refuses a key written twice in one mapping (plain YAML keeps the last one
    silently, so a setting typed twice in a long config file would hide the first)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:  # the mapping's own keys (a `<<:` merge may be overridden on purpose)
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} appears twice in one mapping (first on line "
                    f"{seen[key].start_mark.line + 1}, again on line {key_node.start_mark.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _StrictLoader.construct_mapping)


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader) or {}  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    except (UnicodeDecodeError, RecursionError, OSError) as exc:
        raise ConfigError(f"{path}: cannot read this config file: {describe(exc)}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data


def save_config(cfg: Any, path: str | Path) -> Path:
    """Write the resolved configuration as YAML (atomically), beside a run's outputs."""
    text = yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True)
    return atomic_write_text(path, text)


#: The file name every command writes its resolved configuration to, beside its outputs.
RESOLVED_NAME = "resolved_config.yaml"


def resolve_config(
    cls: type[T],
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    *,
    defaults: T | None = None,
    values: dict[str, Any] | None = None,
) -> T:
    """The front door: the configuration of one command, resolved in one order.

    ``defaults`` (an instance; default ``cls()``) is the start. A YAML file at ``path`` replaces it:
    its top-level keys are set on ``defaults`` when given (a preset the file refines), else it builds
    ``cls`` from the class's own defaults, strictly. Then ``values`` (top-level fields set by a
    command's shortcut flags), then the dotted ``overrides`` ``a.b=c``. Every error is one line that
    names the file (when it comes from the file) and the dotted key.
    """
    if path is not None:
        data = load_yaml(path)
        try:
            cfg = from_dict(cls, {**to_dict(defaults), **data} if defaults is not None else data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    else:
        cfg = defaults if defaults is not None else cls()
    if values:
        data = to_dict(cfg)
        for name, value in values.items():
            if name not in data:
                raise ConfigError(f"unknown key {name}")
            data[name] = value
        cfg = from_dict(cls, data)
    return apply_overrides(cfg, overrides)


def write_resolved_config(cfg: Any, folder: str | Path, name: str = RESOLVED_NAME) -> Path:
    """Write ``cfg`` as ``folder/name`` (atomically), so a run's outputs say what made them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return save_config(cfg, folder / name)
