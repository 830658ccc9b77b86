"""Conformance: our official-convention metrics against a plain re-statement of each official definition.

    .venv/bin/python benchmarks/conformance.py            # ~1 min on 2 cores
    .venv/bin/python benchmarks/conformance.py --cases 50 # quicker

For each benchmark, random inputs (ragged batches, empty masks, tied scores, out-of-range labels,
constant and smooth heatmaps, malformed texts) are scored by ``crabplus.metrics`` / the parsers and by
``benchmarks/restated.py``, which restates the authors' procedure from its definition in plain numpy
(one call per loader batch, loops over thresholds, greedy matching one prediction at a time, the
float32 steps of the SSL test). The table reports the largest absolute difference over the cases.
It compares our code with an independent re-statement of the official definition, not with the
authors' code run side by side; the repository and commit are those whose definition was restated.
For captions the reference is pycocoevalcap itself (our dependency) on the caption with its line
separators replaced by spaces, which is what the official scorer would compute on well-formed text.

Prints a Markdown table and writes ``benchmarks/results/conformance.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import shutil
import time
from pathlib import Path

import cv2
import numpy as np

from crabplus.metrics import (
    avs_fscore,
    avs_miou,
    avss_scores,
    binarize_heatmap,
    ciou,
    refavs_null_s,
    refavs_scores,
    success_auc,
    tiou_map,
    vggss_gt_map,
)
from crabplus.tasks.parsers import parse_prediction

HERE = Path(__file__).resolve().parent
_SPEC = importlib.util.spec_from_file_location("restated", HERE / "restated.py")
restated = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(restated)

AVSBENCH = "OpenNLPLab/AVSBench @ f7414af"
REFAVS = "GeWu-Lab/Ref-AVS @ 82eb688"
UNAV = "ttgeng233/UnAV @ 1609deb"
LVS = "hche11/Localizing-Visual-Sounds-the-Hard-Way @ 1a11b75 (test.py)"
CRAB_PLUS = "GeWu-Lab/Crab_Plus @ 404fa6a (seg/scripts)"


def _masks(rng, shape, soft: bool = True):
    gt = (rng.random(shape) < rng.choice([0.0, 0.2, 0.6])).astype(float)
    pred = np.where(rng.random(shape) < 0.5, rng.random(shape), 1 - gt) if soft else gt
    return pred, gt


def s4(rng) -> dict[str, float]:
    n = int(rng.integers(1, 50))
    pred, gt = _masks(rng, (n, 4, 4))
    return {
        "J": abs(avs_miou(pred, gt, frames_per_batch=20) - restated.per_batch(restated.mask_iou_call, pred, gt, 20)),
        "F": abs(avs_fscore(pred, gt, frames_per_batch=20) - restated.per_batch(restated.fmeasure_call, pred, gt, 20)),
    }


def refavs(rng) -> dict[str, float]:
    s, f = int(rng.integers(1, 10)), int(rng.integers(1, 4))
    pred, gt = _masks(rng, (s, f, 4, 4))
    fp, fg = pred.reshape(-1, 4, 4), gt.reshape(-1, 4, 4)
    out = refavs_scores(pred, gt)
    return {
        "J": abs(out["miou"] - restated.per_batch(restated.mask_iou_call, fp, fg, 4 * f, threshold=0.4)),
        "F": abs(out["fscore"] - restated.per_batch(restated.fmeasure_call, fp, fg, 4 * f)),
        "null S": abs(refavs_null_s(pred) - restated.per_batch(restated.null_s_call, fp, None, 4 * f)),
    }


def avss(rng) -> dict[str, float]:
    n = int(rng.integers(1, 4))
    gt = rng.choice([-1, 0, 1, 2, 35, 69, 70, 71, 255], size=(n, 4, 4))
    pred = rng.integers(0, 71, size=(n, 4, 4))
    agree = rng.random(pred.shape) < 0.5
    pred[agree] = gt[agree].clip(0, 70)  # some pixels right (and the ones under -1 / 71 / 255 labels)
    ours, ref = avss_scores(pred, gt), restated.avss_official(pred, gt)
    return {"mIoU": abs(ours["miou"] - ref["miou"]), "F": abs(ours["fscore"] - ref["fscore"])}


def unav(rng) -> dict[str, float]:
    videos = [f"v{i}" for i in range(int(rng.integers(1, 5)))]
    gts = []
    for _ in range(int(rng.integers(1, 5))):
        s = float(rng.integers(0, 8))
        gts.append((str(rng.choice(videos)), str(rng.choice(["a", "b"])), s, s + float(rng.integers(1, 5))))
    if rng.random() < 0.3:  # a near-duplicate within the tolerance
        v, lab, s, e = gts[0]
        gts.append((v, lab, s + 0.001, e))
    preds = []
    for label in "ab":
        for score in (1.0, 0.5, 1 / 3):
            for v in rng.choice(videos, size=min(len(videos), int(rng.integers(0, 3))), replace=False):
                s = float(rng.integers(0, 8))
                preds.append((str(v), label, s, s + float(rng.integers(1, 5)), score))
    thresholds = [0.1, 0.3, 0.5, 0.7, 0.9]
    ours, ref = tiou_map(preds, gts, thresholds), restated.unav_map_all_orders(preds, gts, thresholds)
    return {"tie-averaged mAP": max(abs(ours[t] - ref[t]) for t in thresholds)}


def ssl(rng) -> dict[str, float]:
    kind = rng.choice(["gauss", "uniform", "constant"])
    if kind == "gauss":
        y, x = np.mgrid[0:224, 0:224]
        cx, cy, sd = rng.uniform(0, 224, 3)
        heat = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * (sd + 5) ** 2)).astype(np.float32)
    elif kind == "uniform":
        heat = rng.random((7, 7)).astype(np.float32)
    else:
        heat = np.full((7, 7), rng.uniform(-1, 1), dtype=np.float32)
    box = sorted(rng.uniform(0, 1, 2))
    gt = vggss_gt_map([[box[0], box[0], box[1], box[1]]])
    ours = binarize_heatmap(heat)
    ref = restated.lvs_binarize(cv2.resize(heat, dsize=(224, 224), interpolation=cv2.INTER_LINEAR))
    ref_ciou = float(np.sum(ref * gt) / (np.sum(gt) + np.sum(ref * (gt == 0))))
    return {"binary map (pixels differing)": float((ours != ref).sum()), "cIoU": abs(ciou(ours, gt) - ref_ciou)}


def ssl_auc(rng) -> dict[str, float]:
    values = rng.random(int(rng.integers(1, 200)))
    xs = [0.05 * i for i in range(21)]
    ys = [np.sum(values >= x) / len(values) for x in xs]
    ref = sum((xs[i + 1] - xs[i]) * (ys[i + 1] + ys[i]) / 2 for i in range(20))
    return {"AUC": abs(success_auc(values)["auc"] - ref)}


_FRAGMENTS = [
    "<answer>true</answer>",
    "<answer>false</answer>",
    "<answer>True</answer>",
    "<answer>FALSE</answer>",
    "</s>",
    "[10,10,100,100]",
    "[0,0,223,223]",
    "[5,5,224,100]",
    "[50,60]",
    "[223,0]",
    "[224,3]",
    "[ 5, 6]",
    "[1.5,2]",
    "dog",
    "\n",
    "<answer>dog</answer>",
]


def release(rng) -> dict[str, float]:
    text = " ".join(rng.choice(_FRAGMENTS, size=int(rng.integers(0, 9))))
    return {
        "S4/MS3 accepted (disagreements)": float(
            parse_prediction("s4", text).release_valid != restated.release_s4_valid(text)
        ),
        "Ref-AVS accepted (disagreements)": float(
            parse_prediction("ref_avs", text).release_valid != restated.release_refavs_valid(text)
        ),
    }


def captions(rng) -> dict[str, float]:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    from crabplus.metrics import caption_scores

    words = ["a", "dog", "cat", "man", "barks", "plays", "the", "guitar", "on", "roof", "rain", "falls", "red"]
    seps = [" ", " ", "\r", "\u2028", "\u2029", "\x85", "\r\n"]

    def sentence(sep_ok: bool) -> str:
        toks = list(rng.choice(words, size=int(rng.integers(2, 8))))
        return "".join(t + (str(rng.choice(seps)) if sep_ok else " ") for t in toks).strip(" ") or "a"

    preds = [sentence(True) for _ in range(6)]
    refs = [[sentence(True) for _ in range(2)] for _ in range(6)]
    ours = caption_scores(preds, refs, meteor=False)

    def one_line(t: str) -> str:
        return " ".join(t.replace("\r", " ").replace("\u2028", " ").replace("\u2029", " ").replace("\x85", " ").split())

    tok = PTBTokenizer()
    gts = tok.tokenize({i: [{"caption": one_line(r)} for r in rs] for i, rs in enumerate(refs)})
    res = tok.tokenize({i: [{"caption": one_line(p)}] for i, p in enumerate(preds)})
    with contextlib.redirect_stdout(io.StringIO()):
        bleu = Bleu(4).compute_score(gts, res)[0][3]
    ref = {"bleu4": bleu, "rouge_l": Rouge().compute_score(gts, res)[0], "cider": Cider().compute_score(gts, res)[0]}
    return {"BLEU-4/ROUGE-L/CIDEr": max(abs(ours[k] - ref[k]) for k in ref)}


ROWS = [
    ("AVSBench S4/MS3", AVSBENCH, "J (mask_iou) and F (Eval_Fmeasure) per 20-frame call, ragged last batch", s4, 1.0),
    ("Ref-AVS", REFAVS, "J, F and null S per 4-sample call (1-3 frames per sample, ragged last batch)", refavs, 1.0),
    ("AVSBench AVSS", AVSBENCH, "colour mIoU / F with labels -1, 71, 255", avss, 1.0),
    (
        "UnAV-100",
        UNAV,
        "mAP@{.1,.3,.5,.7,.9}: exact tie average vs every tied order enumerated; dedupe <= 1e-3",
        unav,
        0.5,
    ),
    ("SSL (VGG-SS)", LVS, "float32 median binarisation (224-px Gaussian, random, constant maps) and cIoU", ssl, 0.3),
    ("SSL (VGG-SS)", LVS, "AUC (trapezoid over 21 thresholds)", ssl_auc, 1.0),
    ("Crab+ release parser", CRAB_PLUS, "which texts the SAM 2 scripts score (random malformed texts)", release, 1.0),
]
CAPTION_ROW = (
    "captions (pycocoevalcap)",
    "pycocoevalcap 1.2 (dependency)",
    "scores with \\r, U+2028, U+2029, U+0085 vs pycocoevalcap on the one-line text",
    captions,
    0.02,
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=200, help="random cases per row (scaled down for slow rows)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(HERE / "results" / "conformance.json"))
    args = parser.parse_args(argv)
    rows = ROWS + ([CAPTION_ROW] if shutil.which("java") else [])
    results = []
    for name, repo, what, fn, scale in rows:
        rng = np.random.default_rng(args.seed)
        n = max(1, int(args.cases * scale))
        start = time.perf_counter()
        worst: dict[str, float] = {}
        for _ in range(n):
            for key, value in fn(rng).items():
                worst[key] = max(worst.get(key, 0.0), float(value))
        results.append(
            {
                "benchmark": name,
                "repository": repo,
                "compared": what,
                "cases": n,
                "max_abs_diff": worst,
                "seconds": round(time.perf_counter() - start, 2),
            }
        )
    print("| benchmark | authors' repository @ commit | compared (ours vs re-statement) | cases | max difference |")
    print("|---|---|---|---:|---|")
    for r in results:
        diffs = "; ".join(f"{k} {v:.1e}" if v else f"{k} 0" for k, v in r["max_abs_diff"].items())
        print(f"| {r['benchmark']} | {r['repository']} | {r['compared']} | {r['cases']} | {diffs} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"seed": args.seed, "rows": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
