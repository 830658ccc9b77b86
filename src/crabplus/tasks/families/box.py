"""The box family: the sounding object's class and its box alone (ARIG, on AVSBench frames).

Target ``The sounding object is LABEL. Its coordinates are <obj>(x1,y1)(x2,y2)</obj>.`` in the 224-pixel space;
reading back clips the box to the frame (a box with no area left is no answer). Scored by box IoU against the
ground-truth box (mean IoU, success@0.5, AUC) and label accuracy; no mask, no segmenter. Chance: another
record's box (the box prior).
"""

from __future__ import annotations

import numpy as np

from crabplus.metrics import box_grounding_scores
from crabplus.schema.geometry import clip_box
from crabplus.schema.prediction import Prediction
from crabplus.schema.records import Answer, Record
from crabplus.tasks.families.base import Score, guess, pick, vocab
from crabplus.tasks.families.reading import ARIG_LABEL, OBJ, answer_tag, num
from crabplus.tasks.families.spatial import FrameStats, SpatialFamily, borrowed_box, label_accuracy, label_box_stats


class BoxFamily(SpatialFamily):
    """A label and a box, in a sentence."""

    name = "box"
    fields = ("label", "box")
    reads_masks = False

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
        return Prediction(label=label.strip() if label else None, box=box, parsed=box is not None,
                          release_valid=box is not None)

    def frame_stats(self, masks, record: Record, pred: Prediction, gt_mask, size_hw, cache: dict) -> FrameStats:
        return label_box_stats(record, pred)

    def aggregate(self, stats: list[FrameStats], frames_per_batch: int = 20) -> Score:
        if not stats:
            return Score({}, "miou", 0, [])
        metrics: dict[str, float] = {}
        boxed = [s for s in stats if s.box_iou is not None]
        if boxed:
            metrics.update(box_grounding_scores([s.pred_box for s in boxed], [s.gt_box for s in boxed]))
        metrics["label_accuracy"] = label_accuracy(stats)
        primary = "miou" if "miou" in metrics else ("box_miou" if "box_miou" in metrics else "label_accuracy")
        return Score(metrics, primary, len(stats), [])

    def chance(self, records: list[Record], rng: np.random.Generator) -> list[Prediction]:
        labels = vocab(r.answer.label for r in records)
        boxes = [r.answer.box for r in records]
        out = []
        for i, _ in enumerate(records):
            p = guess()
            p.label = pick(rng, labels)
            p.box = borrowed_box(rng, boxes, i)
            out.append(p)
        return out
