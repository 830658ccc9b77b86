"""One clip being generated: its random stream, where its media goes, and how its record is built.

Every clip has its own random generator, seeded from (seed, dataset, split, index) only, so a clip's
bytes do not depend on which other clips are generated, in which order or in which process; and a
train clip and a test clip never share a seed. Media paths are relative to the data root ``out``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crabplus.schema.records import Answer, Media, Record
from crabplus.schema.registry import get_spec
from crabplus.synth.config import SynthConfig
from crabplus.synth.mediaio import write_mp4, write_png, write_wav
from crabplus.tasks.formats import render_answer, render_instruction, render_target

_SPLIT_IDS = {"train": 1, "test": 2, "val": 3}


def clip_seed(seed: int, dataset: str, split: str, index: int) -> np.random.SeedSequence:
    """The seed of one clip. crc32 (not ``hash``) because Python salts string hashes per process."""
    return np.random.SeedSequence([seed, zlib.crc32(dataset.encode()), _SPLIT_IDS[split], index])


@dataclass
class Reasoning:
    """The two written granularities of a chain; ``none`` writes no chain at all."""

    short: str
    full: str

    def pick(self, level: str) -> str | None:
        return {"none": None, "short": self.short, "full": self.full}[level]


class Clip:
    """Context handed to a dataset builder: ``rng``, the config, media writers and record assembly."""

    def __init__(self, cfg: SynthConfig, out: str | Path, dataset: str, split: str, index: int):
        self.cfg, self.out, self.dataset, self.split, self.index = cfg, Path(out), dataset, split, index
        self.spec = get_spec(dataset)
        self.rng = np.random.default_rng(clip_seed(cfg.seed, dataset, split, index))
        self.id = f"{dataset}-{split}-{index:05d}"

    # ---- media -----------------------------------------------------------------------------------

    def rel(self, suffix: str) -> str:
        """The media path (relative to the data root) ``<dataset>/media/<split>-<index><suffix>``."""
        return f"{self.dataset}/media/{self.split}-{self.index:05d}{suffix}"

    def mp4(self, suffix: str, frames: np.ndarray, audio: np.ndarray) -> str:
        rel = self.rel(suffix)
        write_mp4(self.out / rel, frames, audio, self.cfg.fps, self.cfg.sample_rate)
        return rel

    def wav(self, suffix: str, audio: np.ndarray) -> str:
        rel = self.rel(suffix)
        write_wav(self.out / rel, audio, self.cfg.sample_rate)
        return rel

    def png(self, suffix: str, image: np.ndarray) -> str:
        rel = self.rel(suffix)
        write_png(self.out / rel, image)
        return rel

    # ---- randomness helpers ----------------------------------------------------------------------

    def balanced(self, options: list | tuple):
        """``options[index mod n]``: classes come out balanced within each split."""
        return options[self.index % len(options)]

    def choice(self, options: list | tuple):
        return options[int(self.rng.integers(len(options)))]

    def sample(self, options: list | tuple, k: int) -> list:
        """``k`` distinct items of ``options`` in random order."""
        return [options[i] for i in self.rng.choice(len(options), size=k, replace=False)]

    # ---- record ----------------------------------------------------------------------------------

    def record(
        self,
        media: Media,
        answer: Answer,
        reasoning: Reasoning | None,
        meta: dict | None = None,
        *,
        question: str | None = None,
        expression: str | None = None,
    ) -> Record:
        """The unified record: instruction and target rendered by ``tasks.formats`` from the answer.
        ``reasoning`` None: no chain at any level (a dataset whose answer has no tag to tell it apart)."""
        chain = reasoning.pick(self.cfg.reasoning) if reasoning is not None else None
        instruction = render_instruction(self.spec, question=question, options=answer.options, expression=expression)
        target = render_target(chain, render_answer(self.spec, answer))
        return Record(
            id=self.id,
            dataset=self.dataset,
            task=self.spec.task,
            split=self.split,
            media=media,
            instruction=instruction,
            answer=answer,
            target=target,
            reasoning=chain,
            meta=meta or {},
        )

    def base_meta(self, duration: int, scene_json: dict) -> dict:
        """What every record's meta holds: the clip's declared duration/fps/rate and its scene graph."""
        return {
            "generator": "avsynth",
            "duration": duration,
            "fps": self.cfg.fps,
            "sample_rate": self.cfg.sample_rate,
            "scene": scene_json,
        }
