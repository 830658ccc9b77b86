"""The box family: the sounding object's class and its box alone (ARIG, on AVSBench frames).

Target ``The sounding object is LABEL. Its coordinates are <obj>(x1,y1)(x2,y2)</obj>.`` in the 224-pixel space;
reading back clips the box to the frame (a box with no area left is no answer). Scored by box IoU against the
ground-truth box (mean IoU, success@0.5, AUC) and label accuracy; no mask, no segmenter. Chance: another
record's box (the box prior).
"""

from __future__ import annotations

from crabplus.metrics import box_grounding_scores
from crabplus.schema.geometry import clip_box
from crabplus.schema.prediction import Prediction
from crabplus.schema.records import Answer, Record
from crabplus.tasks.families.reading import ARIG_LABEL, OBJ, answer_tag, num
from crabplus.tasks.families.spatial import FrameStats, SpatialFamily, label_accuracy, label_box_stats


class BoxFamily(SpatialFamily):
    """A label and a box, in a sentence."""

    name = "box"
    fields = ("label", "box")
    primary_metrics = {"box_iou": "miou"}
    fallbacks = ("box_miou", "label_accuracy")
    segments = False  # scored on boxes alone: no mask, no segmenter
    guesses_points = False

    def render(self, answer: Answer) -> str:
        x1, y1, x2, y2 = answer.box
        return f"The sounding object is {answer.label}. Its coordinates are <obj>({x1},{y1})({x2},{y2})</obj>."

    def parse(self, text: str, options: list[str] | None = None) -> Prediction:
        label = answer_tag(text)
        box = None
        m = OBJ.search(text)
        if m:
            values = [num(g) for g in m.groups()]
            box = clip_box(values) if None not in values else None  # type: ignore[arg-type]
        lm = ARIG_LABEL.search(text)
        if lm and label is None:
            label = lm.group(1)
        return Prediction(
            label=label.strip() if label else None, box=box, parsed=box is not None, release_valid=box is not None
        )

    def frame_stats(self, masks, record: Record, pred: Prediction, gt_mask, size_hw, cache: dict) -> FrameStats:
        return label_box_stats(record, pred)

    def aggregate_metrics(self, stats: list[FrameStats], frames_per_batch: int, notes: list[str]) -> dict[str, float]:
        metrics: dict[str, float] = {}
        boxed = [s for s in stats if s.box_iou is not None]
        if boxed:
            metrics.update(box_grounding_scores([s.pred_box for s in boxed], [s.gt_box for s in boxed]))
        metrics["label_accuracy"] = label_accuracy(stats)
        return metrics
