"""Typed, strict configuration: dataclasses per component, YAML presets, dotted overrides.

- ``from_dict(cls, data)`` builds a dataclass from plain data; an unknown key or a value of the
  wrong type raises :class:`ConfigError` naming the dotted key.
- ``apply_overrides(cfg, ["model.ilora.num_experts=4"])`` sets values by dotted path; the value is
  parsed as YAML (so ``4``, ``0.1``, ``true``, ``[a, b]`` and ``null`` work) and type-checked.
- ``load_config(path, overrides)`` reads a YAML preset into :class:`~crabplus.config.run.RunConfig`.
"""

from crabplus.config.core import (
    ConfigError,
    apply_overrides,
    from_dict,
    load_yaml,
    save_config,
    to_dict,
)

__all__ = ["ConfigError", "apply_overrides", "from_dict", "load_yaml", "save_config", "to_dict"]
