"""The command-line side of the front door: ``--config FILE``, ``KEY=VALUE`` overrides and shortcut flags.

Every subcommand declares its settings once, as a dataclass, and calls :func:`add_config_arguments`
then :func:`config_from_args`. A shortcut flag (``--chance-draws 2``) is generated from the dataclass
field of the same name (its type, its choices, its ``metadata["help"]``) and sets that field through
the same path as ``chance_draws=2``: no flag copies a default or a check by hand, and a key that no
code reads cannot hide behind a flag.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

from crabplus.config.core import ConfigError, resolve_config, to_dict

T = TypeVar("T")

_PREFIX = "config_flag__"
_OVERRIDE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*=")


def _strip_optional(tp: Any) -> Any:
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def add_config_arguments(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    shortcuts: tuple[str, ...] = (),
    positional_overrides: bool = True,
    example: str = "",
) -> None:
    """Add ``--config FILE``, the ``KEY=VALUE`` overrides (a positional list unless the command's own
    positionals take that place; see :func:`split_overrides`) and one ``--field-name`` flag per name in
    ``shortcuts``. A boolean field gets ``--name`` / ``--no-name``; a list field takes several values
    (split at commas too when its metadata says ``"split": ","``; the flag may be repeated when it says
    ``"repeat": True``)."""
    parser.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help=f"YAML file of these settings ({cls.__name__}; default: the built-in defaults); "
        "the resolved settings are written beside the outputs",
    )
    if positional_overrides:
        parser.add_argument(
            "overrides",
            nargs="*",
            metavar="KEY=VALUE",
            help="dotted overrides of the settings, applied last" + (f", e.g. {example}" if example else ""),
        )
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in shortcuts:
        fld, tp = fields[name], _strip_optional(hints[name])
        text = fld.metadata.get("help", "")
        # the field's own default (not cls(), whose validation may import what --help should not)
        default = to_dict(fld.default_factory() if fld.default is dataclasses.MISSING else fld.default)
        shown = "" if default in (None, [], {}) else f"; default {default!r}"
        help_text = f"{text} (key {name}{shown})" if text else f"sets {name}{shown}"
        kwargs: dict[str, Any] = {"dest": _PREFIX + name, "default": None, "help": help_text}
        names = [flag_name(name), *fld.metadata.get("aliases", ())]
        if tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif get_origin(tp) in (list, tuple):
            kwargs.update(nargs="+", metavar=fld.metadata.get("metavar", name.upper()))
            if fld.metadata.get("repeat"):  # --flag A --flag B adds up (as --flag A B does)
                kwargs["action"] = "extend"
        elif get_origin(tp) is Literal:
            kwargs["choices"] = get_args(tp)
        else:
            kwargs["metavar"] = fld.metadata.get("metavar", name.upper())
        parser.add_argument(*names, **kwargs)


def _flag_value(raw: Any, tp: Any, split: str | None) -> Any:
    """A flag's text as a value for the field: strings stay as typed, anything else is read as YAML
    (as ``KEY=VALUE`` reads it), so ``--seed 3`` and ``seed=3`` give the same int."""
    tp = _strip_optional(tp)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, list):
        items = [part.strip() for item in raw for part in (item.split(split) if split else [item])]
        item_tp = (get_args(tp) or (Any,))[0]
        return [_flag_value(item, item_tp, None) for item in items if item != ""]
    if tp is str or get_origin(tp) is Literal:
        return raw
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def split_overrides(tokens: list[str]) -> tuple[list[str], list[str]]:
    """Separate ``KEY=VALUE`` overrides from plain positionals (paths) in one list: a token is an override
    when it starts with a dotted identifier and ``=`` and is not an existing file or folder."""
    overrides = [t for t in tokens if _OVERRIDE.match(t) and not Path(t).exists()]
    return [t for t in tokens if t not in overrides], overrides


def config_from_args(
    cls: type[T],
    args: argparse.Namespace,
    *,
    defaults: T | None = None,
    overrides: list[str] | None = None,
    values: dict[str, Any] | None = None,
) -> T:
    """The command's resolved configuration: ``--config`` (or ``defaults``), then ``values`` (what a
    command's own positionals set), then the shortcut flags given, then the ``KEY=VALUE`` overrides."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    given = dict(values or {})
    if overrides is None:
        overrides = list(getattr(args, "overrides", None) or [])
    for dest, raw in vars(args).items():
        if dest.startswith(_PREFIX) and raw is not None:
            name = dest[len(_PREFIX) :]
            if isinstance(raw, list):  # a list flag takes every word after it, KEY=VALUE ones too: hand those back
                raw, swallowed = split_overrides(raw)
                overrides = swallowed + overrides
            given[name] = _flag_value(raw, hints[name], fields[name].metadata.get("split"))
    try:
        return resolve_config(cls, getattr(args, "config", None), overrides, defaults=defaults, values=given)
    except ConfigError as exc:  # a bad value from a flag: name the flag too, as the user typed it
        text = str(exc)
        for name in given:
            if text.startswith((f"{name}:", f"{name} ")) and name not in (values or {}):
                raise ConfigError(f"{flag_name(name)}: {text}") from None
        raise
