"""The mask family: the sounding object's class, box and three points, segmented into a mask (AVSBench S4/MS3).

Target ``<answer>LABEL</answer> [x1,y1,x2,y2] [x,y][x,y][x,y]`` in the 224-pixel space, no spaces inside the
brackets (the release's regex needs none); a frame whose ground-truth mask is empty has nothing to point at and
its target is the label alone. Reading back also takes spaces and decimals, clips a box to the frame and drops
points outside it; the release's own parser (integers only, no spaces, a box needs a point with it, no box
needs three) decides ``release_valid``.

Scored on the segmenter's mask from the predicted box + points: J with ``p > 0.5`` and F, both over batches of
``frames_per_batch`` consecutive records (the official 20 = 4 videos x 5 frames: mean of the per-batch values,
a short last batch weighing as a full one), plus label accuracy and box IoU against the ground-truth box.
Without ground-truth masks only the box numbers exist and ``box_miou`` is the headline. Chance: another
record's box (the box prior) with three random points inside it.
"""

from __future__ import annotations

import numpy as np

from crabplus.metrics import avs_fscore_from_curves, mean_of_batch_means
from crabplus.schema.prediction import Prediction
from crabplus.schema.records import Answer, Record
from crabplus.tasks.families.reading import S4_GT_LABEL, answer_tag, parse_box_points, release_box_points
from crabplus.tasks.families.spatial import (
    FrameStats,
    SpatialFamily,
    label_accuracy,
    label_box_stats,
    mask_stats,
    mean,
)

THRESHOLD = 0.5  # AVSBench binarises the mask at p > 0.5


def render_box(box: list[int]) -> str:
    return "[" + ",".join(str(int(v)) for v in box) + "]"


def render_points(points: list[list[int]]) -> str:
    return "".join(f"[{int(x)},{int(y)}]" for x, y in points)


class MaskFamily(SpatialFamily):
    """A label, a box and three points."""

    name = "mask"
    fields = ("label", "box", "points")
    primary_metrics = {"avs": "miou"}
    fallbacks = ("box_miou", "label_accuracy")

    def render(self, answer: Answer) -> str:
        if answer.box is None:  # a frame whose ground-truth mask is empty: nothing to point at
            return f"<answer>{answer.label}</answer>"
        return f"<answer>{answer.label}</answer> {render_box(answer.box)} {render_points(answer.points)}"

    def parse(self, text: str, options: list[str] | None = None) -> Prediction:
        box, points = parse_box_points(text)
        label = answer_tag(text)
        if label is None:  # the release's ground-truth sentence
            m = S4_GT_LABEL.search(text.strip())
            label = m.group(1) if m else None
        return Prediction(
            label=label.strip() if label else None,
            box=box,
            points=points or None,
            parsed=bool(box or points),
            release_valid=self.release_valid(text),
        )

    def release_valid(self, text: str) -> bool:
        rbox, rpoints = release_box_points(text, need_three_points_without_box=True)
        return bool(rbox or rpoints)

    def frame_stats(self, masks, record: Record, pred: Prediction, gt_mask, size_hw, cache: dict) -> FrameStats:
        st = label_box_stats(record, pred)
        if gt_mask is not None:
            mask_stats(masks, record, pred, gt_mask, size_hw, cache, st, THRESHOLD, predicted_empty=False)
        return st

    def aggregate_metrics(self, stats: list[FrameStats], frames_per_batch: int, notes: list[str]) -> dict[str, float]:
        metrics: dict[str, float] = {}
        masked = [s for s in stats if s.iou is not None]
        if masked:
            curves = np.stack([s.curve for s in masked])  # [N, 255]
            counted = np.array([s.counted for s in masked])
            metrics["miou"] = mean_of_batch_means([s.iou for s in masked], frames_per_batch)
            metrics["fscore"] = avs_fscore_from_curves(curves, counted, frames_per_batch)
        boxed = [s for s in stats if s.box_iou is not None]
        if boxed:
            metrics["box_miou"] = mean([s.box_iou for s in boxed])
        if "miou" not in metrics:
            notes.append("records carry no GT mask (answer.mask): J and F not computed, box IoU is the headline")
        metrics["label_accuracy"] = label_accuracy(stats)
        return metrics
