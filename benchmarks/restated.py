"""The benchmarks' official metric definitions restated in plain numpy, written from their definitions.

Why: ``crabplus.metrics`` is written for speed and for our inputs (vectorised F curves, per-frame
statistics, an exact tie average); this module states each official procedure as literally as the
definition reads — one metric call per loader batch, loops over thresholds, the greedy matching one
prediction at a time, the float32 steps of the SSL test — so that ``benchmarks/conformance.py`` and the
property tests can compare the two on random inputs. It is a re-statement of the definitions (each
function's docstring names the official function it restates), not the authors' code, and it is not
part of the package.
"""

from __future__ import annotations

import itertools

import numpy as np

# --------------------------------------------------------------------------------------------
# AVSBench S4 / MS3 and Ref-AVS: one metric call per loader batch, the batch values averaged
# --------------------------------------------------------------------------------------------


def mask_iou_call(prob: np.ndarray, gt: np.ndarray, threshold: float = 0.5) -> float:
    """One ``mask_iou`` call on frames [N, H, W]: mean over frames of inter / (union + 1e-7), with the
    empty-ground-truth frame scored by its true-negative pixels over all pixels."""
    total = 0.0
    for p, g in zip(prob, gt):
        pb = (p > threshold).astype(np.float64)
        g = (g != 0).astype(np.float64)
        if g.sum() == 0:
            inter = ((1 - pb) * (1 - g)).sum()
            union = float(g.size)
        else:
            inter = (pb * g).sum()
            union = np.maximum(pb, g).sum()
        total += inter / (union + 1e-7)
    return total / len(prob)


def fmeasure_call(prob: np.ndarray, gt: np.ndarray, beta2: float = 0.3) -> float:
    """One ``Eval_Fmeasure`` call: 255 thresholds, p >= t, empty-GT frames skipped, max of the mean curve."""
    thresholds = np.linspace(0, 1 - 1e-10, 255)
    curves = []
    for p, g in zip(prob, gt):
        g = (g != 0).astype(np.float64)
        if g.mean() == 0:
            continue
        curve = np.zeros(255)
        for i, t in enumerate(thresholds):
            pb = (p >= t).astype(np.float64)
            tp = (pb * g).sum()
            prec = tp / (pb.sum() + 1e-20)
            rec = tp / (g.sum() + 1e-20)
            with np.errstate(invalid="ignore", divide="ignore"):
                f = (1 + beta2) * prec * rec / (beta2 * prec + rec)
            curve[i] = 0.0 if np.isnan(f) else f
        curves.append(curve)
    if not curves:
        return 0.0
    return float(np.mean(curves, axis=0).max())


def per_batch(call, frames: np.ndarray, gt: np.ndarray | None, batch: int, **kw) -> float:
    """The official driver: ``call`` on each consecutive batch, the values averaged over batches."""
    values = []
    for start in range(0, len(frames), batch):
        args = (
            (frames[start : start + batch],)
            if gt is None
            else (frames[start : start + batch], gt[start : start + batch])
        )
        values.append(call(*args, **kw))
    return float(np.mean(values))


def null_s_call(prob: np.ndarray, threshold: float = 0.5) -> float:
    """One Ref-AVS ``metric_s_for_null`` call: sqrt of the foreground fraction over all pixels of the call."""
    return float(np.sqrt((prob > threshold).sum() / prob.size))


# --------------------------------------------------------------------------------------------
# AVSS colour mIoU / F (calc_color_miou_fscore)
# --------------------------------------------------------------------------------------------


def avss_official(pred: np.ndarray, gt: np.ndarray, k: int = 71, beta2: float = 0.3) -> dict[str, float]:
    """Class maps [N, H, W] shifted by +1, prediction masked by (target + 1 > 0), counts by a histogram over
    [1, k] (both edges included, as histc), per-frame class IoU / F summed with the union > 0 count."""
    sum_iou, sum_f, count = np.zeros(k), np.zeros(k), np.zeros(k)
    for p, g in zip(pred, gt):
        t = g.astype(np.int64) + 1
        q = (p.astype(np.int64) + 1) * (t > 0)
        inter_vals = q * (q == t)

        def hist(v):
            v = v[(v >= 1) & (v <= k)]
            return np.array([(v == c).sum() for c in range(1, k + 1)], dtype=np.float64)

        inter, area_p, area_l = hist(inter_vals.ravel()), hist(q.ravel()), hist(t.ravel())
        union = area_p + area_l - inter
        sum_iou += inter / (2.22e-16 + union)
        with np.errstate(invalid="ignore", divide="ignore"):
            prec, rec = inter / area_p, inter / area_l
            f = (1 + beta2) * prec * rec / (beta2 * prec + rec)
        sum_f += np.nan_to_num(f, nan=0.0)
        count += union > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        miou = np.nan_to_num(sum_iou / count, nan=0.0)
        fs = np.nan_to_num(sum_f / count, nan=0.0)
    return {"miou": float(miou.mean()), "fscore": float(fs.mean())}


# --------------------------------------------------------------------------------------------
# UnAV-100: ANET-style AP with the greedy matching, averaged over every order of tied scores
# --------------------------------------------------------------------------------------------


def dedupe_official(gts: list[tuple]) -> list[tuple]:
    """Ground truth (video, label, start, end) without events of one video and label whose start and end
    both differ by <= 1e-3 from an earlier kept one."""
    kept: list[tuple] = []
    for g in gts:
        if not any(
            k[0] == g[0] and k[1] == g[1] and abs(k[2] - g[2]) <= 1e-3 and abs(k[3] - g[3]) <= 1e-3 for k in kept
        ):
            kept.append(g)
    return kept


def ap_in_order(ranked: list[tuple], gts: list[tuple], t: float) -> float:
    """AP of one class's predictions (video, start, end) visited in the given order; gts (video, start, end)."""
    used = [False] * len(gts)
    tp, fp = [], []
    for video, s, e in ranked:
        cands = [j for j, g in enumerate(gts) if g[0] == video]
        ious = []
        for j in cands:
            inter = max(0.0, min(e, gts[j][2]) - max(s, gts[j][1]))
            union = (e - s) + (gts[j][2] - gts[j][1]) - inter
            ious.append(inter / union if union > 0 else 0.0)
        hit = False
        for idx in sorted(range(len(cands)), key=lambda i: -ious[i]):
            if ious[idx] < t:
                break
            if used[cands[idx]]:
                continue
            used[cands[idx]] = hit = True
            break
        tp.append(1.0 if hit else 0.0)
        fp.append(0.0 if hit else 1.0)
    ctp, cfp = np.cumsum(tp), np.cumsum(fp)
    prec = np.concatenate([[0.0], ctp / (ctp + cfp), [0.0]])
    rec = np.concatenate([[0.0], ctp / len(gts), [1.0]])
    for i in range(len(prec) - 2, -1, -1):
        prec[i] = max(prec[i], prec[i + 1])
    return float(sum((rec[i] - rec[i - 1]) * prec[i] for i in range(1, len(rec)) if rec[i] != rec[i - 1]))


def tie_orders(preds: list[tuple]):
    """Every order of (video, start, end, score) by descending score, ties permuted every way."""
    by_score: dict[float, list[tuple]] = {}
    for p in preds:
        by_score.setdefault(p[3], []).append(p[:3])
    blocks = [by_score[s] for s in sorted(by_score, reverse=True)]
    for combo in itertools.product(*(list(itertools.permutations(b)) for b in blocks)):
        yield [p for block in combo for p in block]


def unav_map_all_orders(preds: list[tuple], gts: list[tuple], thresholds) -> dict[float, float]:
    """mAP per threshold, each class's AP averaged over every order of its tied predictions (small inputs).

    ``preds`` (video, label, start, end, score), ``gts`` (video, label, start, end); classes from the GT."""
    gts = dedupe_official(gts)
    classes = sorted({g[1] for g in gts}, key=str)
    out = {}
    for t in thresholds:
        aps = []
        for c in classes:
            cg = [(g[0], g[2], g[3]) for g in gts if g[1] == c]
            cp = [(p[0], p[2], p[3], p[4]) for p in preds if p[1] == c]
            if not cp:
                aps.append(0.0)
                continue
            values = [ap_in_order(order, cg, t) for order in tie_orders(cp)]
            aps.append(float(np.mean(values)))
        out[t] = float(np.mean(aps))
    return out


# --------------------------------------------------------------------------------------------
# Sound-source localisation (LVS test.py): float32 normalisation and median threshold
# --------------------------------------------------------------------------------------------


def lvs_binarize(resized: np.ndarray) -> np.ndarray:
    """A float32 heatmap already at 224 x 224 -> the official binary map, step by step in float32."""
    value = -resized.astype(np.float32)
    lo, hi = value.min(), value.max()
    if hi - lo != 0:
        value = (value - lo) / (hi - lo)
    pred = 1 - value
    th = np.sort(pred.flatten())[int(pred.shape[0] * pred.shape[1] / 2)]
    pred[pred > th] = 1
    pred[pred < 1] = 0
    out = np.zeros(pred.shape)
    out[pred >= 0.5] = 1
    return out


# --------------------------------------------------------------------------------------------
# The Crab+ release's SAM 2 scripts: which texts they score
# --------------------------------------------------------------------------------------------

_BRACKET = r"\[(\d+),(\d+)(?:,(\d+),(\d+))?\]"


def _release_coords(text: str):
    import re

    text = text.split("</s>", 1)[0]
    boxes, points = [], []
    for m in re.findall(_BRACKET, text):
        if m[2] and m[3]:
            boxes.append([int(v) for v in m])
        else:
            points.append([int(m[0]), int(m[1])])
    return (boxes[0] if boxes else None), points


def _in_frame(box, points, size: int = 224) -> bool:
    if box is not None and (
        box[0] < 0 or box[1] < 0 or box[2] >= size or box[3] >= size or box[0] >= box[2] or box[1] >= box[3]
    ):
        return False
    return all(0 <= x < size and 0 <= y < size for x, y in points)


def release_s4_valid(text: str) -> bool:
    """S4/MS3 script: a box with 1-3 (last) points, or no box and the last 3 of >= 3 points; in the frame."""
    box, points = _release_coords(text)
    if box is None and not points:
        return False
    if box is not None and points:
        use = points[-3:]
    elif len(points) >= 3:
        box, use = None, points[-3:]
    else:
        return False  # insufficient_coordinates
    return bool(use) and _in_frame(box, use)


def release_refavs_valid(text: str) -> bool:
    """Ref-AVS script: before </s>, a true tag (no false tag) and coordinates in the frame; otherwise
    scored as an empty mask iff the whole text holds the false tag. Tags are matched case-sensitively."""
    head = text.split("</s>", 1)[0]
    if "<answer>false</answer>" not in head and "<answer>true</answer>" in head:
        box, points = _release_coords(text)
        if box is not None or points:
            return _in_frame(box, points[-3:])
    return "<answer>false</answer>" in text
