"""AVSynth: the embedded synthetic audio-visual world, with a mirror dataset for each real one.

    from crabplus.synth import SynthConfig, generate
    manifest = generate("data/avsynth", SynthConfig(per_dataset=24, seed=0))

See docs/avsynth.md for the world, the mirror datasets and example records.
"""

from crabplus.synth.config import PRESETS, SynthConfig, preset
from crabplus.synth.generate import GENERATOR_VERSION, Manifest, SynthError, generate, load_manifest

__all__ = [
    "GENERATOR_VERSION",
    "PRESETS",
    "Manifest",
    "SynthConfig",
    "SynthError",
    "generate",
    "load_manifest",
    "preset",
]
