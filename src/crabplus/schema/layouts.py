"""The modular family's media layout: the contract between the processor that writes it and the model that reads it.

Why here, at the bottom: the processor (``data``) expands each media placeholder to the number of tokens the model
will put there, and the modular model (``model``) checks that count when it splices; neither may import the other
(as with :mod:`crabplus.schema.tokens`). Plain Python, no torch.

A modular model (Crab's paradigm: separate encoders, a projector per modality, any causal LM) is marked by its
config's ``model_type``; it reads

- vision: one image per frame (``[frames, 3, S, S]``, normalised with the vision encoder's mean and std), and puts
  ``vision_queries`` tokens per frame into the prompt;
- audio: the log-mel frames, cut into segments of ``audio_segment_frames`` (one second), and puts
  ``audio_queries`` tokens per segment (a last, shorter segment counts as one).
"""

from __future__ import annotations

#: ``model_type`` of the modular family's config (crabplus.model.modular.hf_config.ModularAVConfig).
MODULAR_MODEL_TYPE = "crabplus_modular"


def is_modular(config) -> bool:
    """Whether a model config is the modular family's (else it is a Qwen2.5-Omni thinker's)."""
    return getattr(config, "model_type", None) == MODULAR_MODEL_TYPE


def audio_segments(valid_frames: int, segment_frames: int) -> int:
    """Audio segments the modular model cuts ``valid_frames`` mel frames into: ceil(valid / segment), at least 1."""
    if segment_frames < 1:
        raise ValueError(f"audio_segment_frames must be >= 1, got {segment_frames}")
    return max(1, -(-int(valid_frames) // segment_frames))
