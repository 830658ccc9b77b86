"""transformers' own processor files beside a saved model, so ``AutoImageProcessor``, ``AutoFeatureExtractor``
(and, where torchvision is installed, ``AutoProcessor``) load what the model was trained with.

Why: a user of transformers loads a checkpoint with its Auto classes. The release's Qwen2.5-Omni processor
keeps the image processor's and the feature extractor's settings in one ``preprocessor_config.json`` naming
``processor_class: Qwen2_5OmniProcessor``, and the video processor's in ``video_preprocessor_config.json``; we
write the same files with our settings: frames of ``image_size`` × ``image_size`` (a square frame stays that
size: ``shortest_edge`` = ``longest_edge`` = its pixel count), the thinker's patch, merge and temporal patch
sizes, ``num_mel_bins`` mel bands at the thinker's mel hop (20 ms for the tiny preset, 10 ms for the release).
The values come from transformers' classes themselves (``to_dict``), not typed by hand. The full processor
also needs transformers' video processor, which needs torchvision (not installed here: docs/media.md); the
image processor and the feature extractor load without it, and tests/test_auto_classes.py checks that they
give our processor's pixel patches and log-mel features.
"""

from __future__ import annotations

from pathlib import Path

from crabplus.utils.io import atomic_write_json

PROCESSOR_CLASS = "Qwen2_5OmniProcessor"


def write_processor_files(folder: str | Path, processor) -> list[Path]:
    """``preprocessor_config.json`` and ``video_preprocessor_config.json`` for ``processor`` (a CrabProcessor)."""
    from transformers import Qwen2VLImageProcessorPil, WhisperFeatureExtractor

    geometry, pixels = processor.geometry, processor.image_size * processor.image_size
    image = Qwen2VLImageProcessorPil(
        size={"shortest_edge": pixels, "longest_edge": pixels},
        patch_size=geometry.patch_size,
        temporal_patch_size=geometry.temporal_patch_size,
        merge_size=geometry.merge_size,
    ).to_dict()
    audio = WhisperFeatureExtractor(feature_size=processor.n_mels, hop_length=processor.mel_hop).to_dict()
    folder = Path(folder)
    video = {k: v for k, v in image.items() if k != "image_processor_type"}
    both = {**audio, **image, "processor_class": PROCESSOR_CLASS}
    videos = {**video, "video_processor_type": "Qwen2VLVideoProcessor", "processor_class": PROCESSOR_CLASS}
    return [
        atomic_write_json(folder / "preprocessor_config.json", both),
        atomic_write_json(folder / "video_preprocessor_config.json", videos),
    ]
