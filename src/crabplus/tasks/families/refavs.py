"""The refavs family: whether a described object is there, and if so its box and points (Ref-AVS).

Target ``<answer>true</answer> LABEL [x1,y1,x2,y2] [x,y][x,y][x,y]`` or ``<answer>false</answer> The object is
absent.`` (``yes``/``no`` also read). ``release_valid`` follows the release's script (case-sensitive tags):
before the first ``</s>``, ``true`` with no ``false`` and a bracket is valid iff the coordinates pass its
checks; anything else is scored (as an empty mask) iff the whole text holds ``<answer>false</answer>``.

Scored as the official driver: J with ``p > 0.4`` and F on the samples whose object exists, null S on the others
(predicting "false" gives an empty mask), each per batch of 4 consecutive samples (loader batch 4, one metric
call per batch) averaged over batches; batches form within a split, in record order. ``fscore_per_sample`` and
``null_s_per_sample`` (one call per sample) are extras, not the official numbers. Unparsed is wrong: J 0, a zero
F curve, and on a null sample every pixel counts as foreground (S = 1, the worst value). Chance: "exists" at
random, then another record's box with three random points inside it.
"""

from __future__ import annotations

import re

import numpy as np

from crabplus.metrics import batch_fscore
from crabplus.metrics.avs import REFAVS_SAMPLES_PER_BATCH
from crabplus.schema.prediction import Prediction
from crabplus.schema.records import Answer, Record
from crabplus.tasks.families.mask import render_box, render_points
from crabplus.tasks.families.reading import (
    FALSE_WORDS,
    TRUE_WORDS,
    answer_tag,
    parse_box_points,
    release_refavs_valid,
)
from crabplus.tasks.families.spatial import (
    FrameStats,
    SpatialFamily,
    mask_stats,
    mean,
    sample_key,
)
from crabplus.tasks.normalize import normalize_answer

THRESHOLD = 0.4  # Ref-AVS binarises the mask at p > 0.4


class RefAvsFamily(SpatialFamily):
    """true/false, then a label, a box and three points when true."""

    name = "refavs"
    fields = ("exists", "label", "box", "points")
    primary_metrics = {"refavs": "miou"}
    fallbacks = ("null_s", "exists_accuracy")
    extra_headlines = ("null_s",)
    guesses_exists = True

    def render(self, answer: Answer) -> str:
        if not answer.exists:
            return "<answer>false</answer> The object is absent."
        return f"<answer>true</answer> {answer.label} {render_box(answer.box)} {render_points(answer.points)}"

    def parse(self, text: str, options: list[str] | None = None) -> Prediction:
        box, points = parse_box_points(text)
        pred = Prediction(box=box, points=points or None)
        flag = answer_tag(text)
        flag_word = normalize_answer(flag).split()[0] if flag and normalize_answer(flag) else ""
        if flag_word in FALSE_WORDS:
            pred.exists, pred.box, pred.points = False, None, None
        elif flag_word in TRUE_WORDS or (flag is None and (box or points)):
            pred.exists = True
            after = re.split(r"</answer>", text, flags=re.IGNORECASE)[-1]
            label = after.split("[")[0].strip().strip(":,;").strip()
            pred.label = label or None
        pred.parsed = pred.exists is False or (pred.exists is True and bool(box or points))
        pred.release_valid = self.release_valid(text)
        return pred

    def release_valid(self, text: str) -> bool:
        return release_refavs_valid(text)

    def frame_stats(self, masks, record: Record, pred: Prediction, gt_mask, size_hw, cache: dict) -> FrameStats:
        st = FrameStats(release_valid=pred.release_valid, group=sample_key(record), split=record.meta.get("split"))
        exists = bool(record.answer.exists)
        st.exists_gt = exists
        st.exists_correct = pred.parsed and pred.exists == exists
        says_absent = pred.exists is False
        if exists:
            if gt_mask is not None:
                mask_stats(masks, record, pred, gt_mask, size_hw, cache, st, THRESHOLD, says_absent)
            return st
        if not pred.parsed or not says_absent:
            h, w = masks.frame(record, size_hw, cache).shape[:2]
            st.pixels = h * w
            st.foreground = st.pixels if not pred.parsed else int(masks.mask(record, pred, size_hw, cache).sum())
        else:  # an empty prediction; its pixel count still matters, as S pools the pixels of a 4-sample batch
            h, w = size_hw if size_hw is not None else masks.frame(record, size_hw, cache).shape[:2]
            st.pixels, st.foreground = h * w, 0
        return st

    def aggregate_metrics(self, stats: list[FrameStats], frames_per_batch: int, notes: list[str]) -> dict[str, float]:
        metrics: dict[str, float] = {}
        positives = [s for s in stats if s.exists_gt and s.iou is not None]
        if positives:
            metrics.update(_masks(positives))
            splits = sorted({s.split for s in positives if s.split})
            if len(splits) > 1:
                for split in splits:
                    for k, v in _masks([s for s in positives if s.split == split]).items():
                        metrics[f"{k}/{split}"] = v
        nulls = [s for s in stats if s.exists_gt is False]
        if nulls:
            metrics["null_s"] = mean([_pooled_s(b) for b in _batches(_samples(nulls))])
            metrics["null_s_per_sample"] = mean([_pooled_s(sample) for sample in _samples(nulls)])
        metrics["exists_accuracy"] = mean([bool(s.exists_correct) for s in stats])
        if any(s.exists_gt for s in stats) and not positives:
            notes.append("no GT masks on the existing-object samples: J and F not computed")
        return metrics


def _samples(stats: list[FrameStats]) -> list[list[FrameStats]]:
    """Frames grouped by sample, samples in order of first appearance."""
    groups: dict[str, list[FrameStats]] = {}
    for s in stats:
        groups.setdefault(s.group, []).append(s)
    return list(groups.values())


def _batches(samples: list[list[FrameStats]]) -> list[list[FrameStats]]:
    """The official Ref-AVS batches: 4 consecutive samples of one split, frames pooled."""
    by_split: dict[str | None, list[list[FrameStats]]] = {}
    for sample in samples:
        by_split.setdefault(sample[0].split, []).append(sample)
    out = []
    for group in by_split.values():
        for start in range(0, len(group), REFAVS_SAMPLES_PER_BATCH):
            out.append([m for sample in group[start : start + REFAVS_SAMPLES_PER_BATCH] for m in sample])
    return out


def _fscore(frames: list[FrameStats]) -> float:
    return batch_fscore(np.stack([m.curve for m in frames]), np.array([m.counted for m in frames]))


def _masks(stats: list[FrameStats]) -> dict[str, float]:
    samples = _samples(stats)
    batches = _batches(samples)
    return {
        "miou": mean([mean([m.iou for m in b]) for b in batches]),
        "fscore": mean([_fscore(b) for b in batches]),
        "fscore_per_sample": mean([_fscore(sample) for sample in samples]),
    }


def _pooled_s(frames: list[FrameStats]) -> float:
    return float(np.sqrt(sum(m.foreground for m in frames) / sum(m.pixels for m in frames)))
