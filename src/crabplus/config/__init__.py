"""The configuration machinery, and only that: each command's dataclass lives with the part it configures.

- ``from_dict(cls, data)`` builds a dataclass from plain data; an unknown key or a value of the
  wrong type raises :class:`ConfigError` naming the dotted key.
- ``apply_overrides(cfg, ["model.ilora.num_experts=4"])`` sets values by dotted path; the value is
  parsed as YAML (so ``4``, ``0.1``, ``true``, ``[a, b]`` and ``null`` work) and type-checked.
- ``resolve_config(cls, path, overrides)`` is the front door every command goes through (a YAML file
  or the defaults, then overrides); ``write_resolved_config`` writes the result beside a run's outputs.
- ``crabplus.config.cli``: the same for a command line (``--config FILE``, ``KEY=VALUE``, shortcut flags).
"""

from crabplus.config.core import (
    RESOLVED_NAME,
    ConfigError,
    apply_overrides,
    from_dict,
    load_yaml,
    resolve_config,
    save_config,
    to_dict,
    write_resolved_config,
)

__all__ = [
    "RESOLVED_NAME",
    "ConfigError",
    "apply_overrides",
    "from_dict",
    "load_yaml",
    "resolve_config",
    "save_config",
    "to_dict",
    "write_resolved_config",
]
