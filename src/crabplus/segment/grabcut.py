"""The embedded default segmenter: OpenCV GrabCut seeded by the predicted box and points.

GrabCut needs no weights, so the whole pipeline runs without downloads. The box sets "probably
foreground" inside and "background" outside; each point marks a small disc of sure foreground.
With points but no box, the box is the points' bounding box grown by a quarter of the image side.
GrabCut cannot run when there is no background sample (a box covering the whole image) or when
its colour models fail on tiny regions; it also may return an empty mask. In those cases the
filled box is the answer: the box alone is the prompt's own best guess (documented behaviour, not
a silent success: ``last_fallback`` says it happened).
"""

from __future__ import annotations

import cv2
import numpy as np

from crabplus.segment.base import box_mask, check_image, scale_box, scale_points


class GrabCutSegmenter:
    """``segment(image, box_224, points_224)`` through ``cv2.grabCut`` (seeded, deterministic)."""

    name = "grabcut"

    def __init__(self, iterations: int = 5, point_radius_fraction: float = 0.02, seed: int = 0):
        if iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {iterations}")
        self.iterations = iterations
        self.point_radius_fraction = point_radius_fraction
        self.seed = seed
        self.last_fallback: str | None = None

    def segment(self, image, box_224, points_224) -> np.ndarray:
        image = check_image(image)
        h, w = image.shape[:2]
        self.last_fallback = None
        box = scale_box(box_224, h, w)
        points = scale_points(points_224, h, w)
        if box is None and not points:
            return np.zeros((h, w), dtype=bool)
        if box is None:
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            pad = max(1, int(0.25 * max(h, w)))
            box = (max(0, min(xs) - pad), max(0, min(ys) - pad), min(w, max(xs) + pad + 1), min(h, max(ys) + pad + 1))
        x1, y1, x2, y2 = box
        mask = np.full((h, w), cv2.GC_BGD, dtype=np.uint8)  # [H, W]
        mask[y1:y2, x1:x2] = cv2.GC_PR_FGD
        radius = max(1, int(round(self.point_radius_fraction * max(h, w))))
        for px, py in points:
            cv2.circle(mask, (px, py), radius, int(cv2.GC_FGD), thickness=-1)
        has_bg = bool((mask == cv2.GC_BGD).any())
        if not has_bg:
            self.last_fallback = "box covers the whole image"
            return box_mask(box, h, w)
        bgd = np.zeros((1, 65), np.float64)
        fgd = np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(self.seed)  # GrabCut's k-means initialisation is random
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        try:
            cv2.grabCut(bgr, mask, None, bgd, fgd, self.iterations, cv2.GC_INIT_WITH_MASK)
        except cv2.error as exc:
            self.last_fallback = f"grabCut failed: {str(exc).strip().splitlines()[-1]}"
            return box_mask(box, h, w)
        out = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
        if not out.any():
            self.last_fallback = "grabCut returned an empty mask"
            return box_mask(box, h, w)
        return out
