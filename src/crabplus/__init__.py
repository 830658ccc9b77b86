"""crabplus: an open implementation of Crab+, a unified audio-visual LLM with Interaction-aware LoRA.

The package is organised as one module per part (see docs/architecture.md): ``config``, ``data``,
``synth``, ``tasks``, ``metrics``, ``model``, ``adapters``, ``segment``, ``train``, ``evaluate``
and ``cli``. Data flows one way: media + record -> features + prompt -> model -> text -> parser ->
structured prediction -> metric -> report.
"""

__version__ = "0.1.0"
