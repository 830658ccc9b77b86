"""Lazy package exports (PEP 562), so that light imports stay light.

Reading a configuration imports every component's config dataclass, and ``crabplus --help`` imports
every subcommand; neither should pull in torch, transformers, OpenCV or matplotlib. A package lists what
it exports and from which submodule, and the submodule is imported on first use of one of its names.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, tuple[str, ...]]) -> tuple[Callable, Callable, list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package`` whose ``exports`` map submodule -> names."""
    where = {name: f"{package}.{module}" for module, names in exports.items() for name in names}

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name]), name)
        setattr(sys.modules[package], name, value)  # later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(where)

    return __getattr__, __dir__, sorted(where)
