"""``crabplus serve`` settings (no Gradio import: reading them stays cheap)."""

from __future__ import annotations

from dataclasses import dataclass, field

from crabplus.config.core import ConfigError


@dataclass
class ServeConfig:
    """Serve the web page over the trained model folder ``checkpoint`` on ``host``:``port`` (localhost unless told
    otherwise); answers are up to ``max_new_tokens`` long."""

    checkpoint: str | None = field(
        default=None, metadata={"help": "a trained model folder (OUTPUT_DIR/final)", "metavar": "DIR"}
    )
    host: str = field(default="127.0.0.1", metadata={"help": "address to bind (the default is this machine only)"})
    port: int = field(default=7860, metadata={"help": "port to listen on", "metavar": "N"})
    max_new_tokens: int = field(default=128, metadata={"help": "longest answer, in tokens", "metavar": "N"})

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ConfigError(f"port must be in 1..65535, got {self.port}")
