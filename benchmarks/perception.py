"""What a base perceives on held-out clips: greedy answers per attribute and linear probes, beside chance and
the same preset at random initialisation.

    .venv/bin/python benchmarks/perception.py [--checkpoint DIR] [--out benchmarks/results/perception.json]
        [--clips-scale 1] [--seed 7] [--max-new-tokens 16] [--batch-size 8] [--per-attribute 40]
        [--only greedy|probes] [--work DIR] [--quick]

A held-out perception corpus is rendered from ``--seed`` (the shipped base trains on seed 0's clips; the corpus
seed scheme gives every seed its own clips) with the base's rendering settings. Then, for the checkpoint (default:
the shipped base) and for its preset built from ``torch.manual_seed(0)`` with the same tokenizer:

- greedy: the perception-dense questions (``meta["probe"]``), up to ``--per-attribute`` per attribute drawn in
  turn from every layout that asks it, answered greedily and scored by ``crabplus.evaluate.perception``; and
  ``box``: as many of the corpus's box questions (a named object's box or corners, one a clip), right at IoU
  >= 0.5, beside the one constant box that is the mean of the true boxes (its "chance") — where a named object
  is at the grain a segmentation answer needs;
- probes: one forward pass per clip (its first question, a plain "describe it" one) gives the features at seven
  sites — the vision tower's merged tokens (mean; concatenated), the audio tower's tokens (mean), the LLM's
  hidden states at the vision positions (mean) and at the last prompt position, after layer 1 and the last
  layer — and a linear probe (``crabplus.evaluate.linear_probe``) reads labels taken from the clips' ground
  truth: a single-object still's colour, shape and quadrant; the pitch (colour) and timbre (shape) of the one
  source sounding at a still's moment; which of two shapes in view sounds (binding: the left or the right one);
  a talking face's mood, drawn face and speaker pitch; which of two clips makes the sound and which of two
  tracks belongs to the clip (matching).

Everything runs on one CPU thread. Writes the JSON atomically (with the command, the checkpoint's sha256 and the
seconds of each part) and prints the tables. ``--quick``: a toy-sized run for tests.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

os.environ.setdefault("CRABPLUS_QUIET", "1")

#: clips per layout of the held-out corpus at ``--clips-scale 1`` (stills, faces, pairs and sounds feed the probes
#: too; a third of the stills hold one object)
CLIPS = {"pt_still": 300, "pt_still10": 40, "pt_face": 150, "pt_pair": 100, "pt_sounds": 100, "pt_scene": 60}
QUICK_CLIPS = {"pt_still": 24, "pt_still10": 2, "pt_face": 12, "pt_pair": 8, "pt_sounds": 8, "pt_scene": 2}
SITES = (
    "vision_mean",
    "vision_concat",
    "audio_mean",
    "llm_vision_l1",
    "llm_vision_last",
    "llm_last_l1",
    "llm_last_last",
)
MODELS = ("checkpoint", "random_init")
SHORT = dict(zip(SITES, ("V mean", "V concat", "A mean", "LLM vis L1", "LLM vis Ln", "LLM last L1", "LLM last Ln")))


# ---- the held-out corpus ------------------------------------------------------------------------------------


def say(text: str) -> None:
    """A progress line on stderr (the tables go to stdout)."""
    print(f"[perception] {text}", file=sys.stderr, flush=True)


def held_out_corpus(out: Path, seed: int, clips: dict[str, int]) -> list:
    """Render the corpus (the base's rendering settings, seed ``seed``) and return all its records. Its two
    matching layouts also ask what each joined clip or track holds (``order``), whether or not the base trained
    on such questions: a base that names one half for both answers them at chance."""
    from crabplus.experiments.base import BaseConfig
    from crabplus.schema.records import load_records
    from crabplus.synth.pretrain import CORPUS_VERSION, generate_corpus

    summary = out / "corpus.json"
    have = json.loads(summary.read_text(encoding="utf-8")) if summary.is_file() else {}
    cfg = replace(BaseConfig().synth, seed=seed)
    same = (
        have.get("version") == CORPUS_VERSION
        and have.get("seed") == seed
        and have.get("image_size") == cfg.image_size
        and have.get("order") is True
        and {k: v.get("clips") for k, v in (have.get("counts") or {}).items()} == clips
    )
    if same:  # a --work folder from an earlier run with the same settings (corpus.json is written last)
        say(f"reusing the held-out corpus in {out}")
    else:
        generate_corpus(out, cfg, clips, order=True)
    return [r for layout in clips for r in load_records(out / layout / "train.jsonl")]


def greedy_questions(records: list, per_attribute: int) -> list:
    """Up to ``per_attribute`` probe records per attribute, taken in turn from each layout that asks it."""
    from crabplus.evaluate.perception import probe_records

    by: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in probe_records(records):
        by[r.meta["probe"]["attribute"]][r.dataset].append(r)
    return [r for attribute in sorted(by) for r in in_turn(by[attribute].values(), per_attribute)]


def in_turn(queues, limit: int) -> list:
    """Up to ``limit`` items, one from each queue in turn (the queues are left as they were)."""
    queues = [list(q) for q in queues]
    chosen: list = []
    while len(chosen) < limit and any(queues):
        for q in queues:
            if q and len(chosen) < limit:
                chosen.append(q.pop(0))
    return chosen


# ---- probe labels from the clips' ground truth -------------------------------------------------------------


def clip_of(record) -> str:
    return record.id.rsplit("-q", 1)[0]


def still_labels(meta: dict) -> dict[str, str]:
    from crabplus.synth.pretrain_dense import quadrant

    objects = meta["scene"]["objects"]
    moment = int(meta["frame_time"]) + 0.5  # the second the still's sound window is taken from (build_still)
    seen = [o for o in objects if o["onscreen"]]
    now = [o for o in objects if any(a <= moment < b for a, b in o["sounding"])]
    out = {}
    if len(seen) == 1:
        colour, shape = seen[0]["class"].split(" ")
        out.update(colour=colour, shape=shape, quadrant=quadrant(seen[0]["x"], seen[0]["y"]))
    if len(now) == 1:
        out["pitch"], out["timbre"] = now[0]["class"].split(" ")  # a class's pitch is its colour, timbre its shape
    if len(seen) == 2 and len(now) == 1 and now[0]["onscreen"]:
        other = seen[1] if seen[0] is now[0] else seen[0]
        out["binding"] = "left" if now[0]["x"] < other["x"] else "right"
    return out


def face_labels(meta: dict) -> dict[str, str]:
    from crabplus.synth.pretrain_text import FACE_VOICE_MOOD

    emotion = meta["scene"]["emotion"]
    return {
        "mood": emotion,
        "face": FACE_VOICE_MOOD[emotion][0],
        "speaker": "high" if meta["scene"]["base_f0"] >= 160 else "low",
    }  # build_face's threshold


def matching_label(records: list, name: str) -> dict[str, str]:
    for r in records:
        probe = (r.meta or {}).get("probe") or {}
        if probe.get("attribute") == "matching":
            return {name: probe["expected"]}
    raise ValueError(f"record {records[0].id}: a matching clip without its matching question")


def probe_sets(records: list) -> dict[str, tuple[list, list[dict[str, str]]]]:
    """set name -> (one record per clip: its first question, labels per clip)."""
    clips: dict[str, list] = defaultdict(list)
    for r in records:
        clips[clip_of(r)].append(r)
    sets: dict[str, tuple[list, list]] = {k: ([], []) for k in ("still", "face", "pair", "sounds")}
    for recs in clips.values():
        first, layout = recs[0], recs[0].dataset
        if layout == "pt_still":
            labels, name = still_labels(first.meta), "still"
        elif layout == "pt_face":
            labels, name = face_labels(first.meta), "face"
        elif layout == "pt_pair":
            labels, name = matching_label(recs, "clip_matching"), "pair"
        elif layout == "pt_sounds":
            labels, name = matching_label(recs, "track_matching"), "sounds"
        else:
            continue
        sets[name][0].append(first)
        sets[name][1].append(labels)
    return sets


# ---- the models ----------------------------------------------------------------------------------------------


def image_size_of(checkpoint: Path, given: int | None) -> int:
    """The frame side to feed: ``--image-size``, else the one the checkpoint was trained with, else the base's."""
    from crabplus.experiments.base import BaseConfig
    from crabplus.infer.predictor import trained_image_size

    return given or trained_image_size(checkpoint) or BaseConfig().data.image_size


def load_models(checkpoint: Path, image_size: int, cache_dir: Path) -> dict:
    """The checkpoint's predictor and one for its preset at random initialisation (seed 0, same tokenizer), both
    reading decoded media through one cache (every clip is asked several questions, by both models)."""
    import torch

    from crabplus.infer.predictor import Predictor
    from crabplus.model import build_backbone

    trained = Predictor.from_checkpoint(checkpoint, image_size=image_size, cache_dir=str(cache_dir))
    # a modular base's config names the parts it started from: the random model is the preset's, from nothing
    modular = replace(trained.model_cfg.modular, vision=None, audio=None, llm=None)
    cfg = replace(trained.model_cfg, checkpoint=None, adapter="none", modular=modular)
    torch.manual_seed(0)
    model = build_backbone(cfg, trained.tokenizer, device="cpu")
    return {
        "checkpoint": trained,
        "random_init": Predictor.from_model(
            model, trained.tokenizer, cfg, image_size=image_size, cache_dir=str(cache_dir)
        ),
    }


def features(predictor, records: list, root: Path) -> dict[str, np.ndarray]:
    """site -> [clips, D]: one forward pass per clip, the towers' outputs caught by forward hooks (a modular
    model's: what its projectors read, the vision tower's patch tokens and the audio encoder's positions)."""
    import torch

    from crabplus.infer.batch import encode_batch
    from crabplus.model.generate import FORWARD_KEYS

    model = predictor.model
    caught: dict[str, torch.Tensor] = {}
    if predictor.model_cfg.family == "modular":
        hooks = [
            model.vision_projector.register_forward_hook(
                lambda m, i, o: caught.__setitem__("vision", i[0].flatten(0, 1))
            ),
            model.audio_projector.register_forward_hook(
                lambda m, i, o: caught.__setitem__("audio", i[0].flatten(0, 1))
            ),
        ]
    else:
        hooks = [
            model.model.visual.register_forward_hook(lambda m, i, o: caught.__setitem__("vision", o.pooler_output)),
            model.model.audio_tower.register_forward_hook(
                lambda m, i, o: caught.__setitem__("audio", o.last_hidden_state)
            ),
        ]
    media_ids = [model.config.image_token_id, model.config.video_token_id]
    rows: dict[str, list[np.ndarray]] = defaultdict(list)
    try:
        with torch.no_grad():
            for record in records:
                _, batch = encode_batch(predictor, [record], root)
                out = model(
                    **{k: batch[k] for k in FORWARD_KEYS if batch.get(k) is not None}, output_hidden_states=True
                )
                hidden = out.hidden_states  # (embeddings, layer 1, ..., last): each [1, T, H]
                at_vision = torch.isin(batch["input_ids"][0], torch.tensor(media_ids))  # [T]
                found = {
                    "vision_mean": caught["vision"].mean(0),
                    "vision_concat": caught["vision"].flatten(),
                    "audio_mean": caught["audio"].mean(0),
                    "llm_vision_l1": hidden[1][0, at_vision].mean(0),
                    "llm_vision_last": hidden[-1][0, at_vision].mean(0),
                    "llm_last_l1": hidden[1][0, -1],
                    "llm_last_last": hidden[-1][0, -1],
                }
                for site, value in found.items():
                    rows[site].append(value.float().numpy())
    finally:
        for hook in hooks:
            hook.remove()
    return {site: np.stack(v) for site, v in rows.items()}


# ---- the runs ----------------------------------------------------------------------------------------------


def token_budget(tokenizer, expected: list[str], floor: int) -> int:
    """``floor`` new tokens, or more when an expected answer needs more (a drawn face is up to 26 tokens of
    the shipped tokenizer): its tokens and two more (the end of the turn, and a spare)."""
    longest = max(len(tokenizer(text, add_special_tokens=False).input_ids) for text in expected)
    return max(floor, longest + 2)


def greedy_answers(models: dict, asked: list, root: Path, args, budget: int) -> dict[str, list[str]]:
    """model name -> its greedy answer to each of ``asked``, in order."""
    from crabplus.infer.batch import predict_records

    return {
        name: [
            row.predict
            for row in predict_records(
                predictor,
                asked,
                root,
                batch_size=args.batch_size,
                max_new_tokens=budget,
                record_routing=False,
                progress=False,
            )
        ]
        for name, predictor in models.items()
    }


def run_greedy(models: dict, questions: list, root: Path, args) -> dict:
    """attribute -> {n, chance, accuracy, interval_95, random_init_accuracy, max_new_tokens, examples}; the
    interval is the accuracy's 95 % Wilson interval over the n questions."""
    from crabplus.evaluate.perception import score_answers
    from crabplus.evaluate.proportion import wilson_interval

    by: dict[str, list] = defaultdict(list)
    for q in questions:
        by[q.meta["probe"]["attribute"]].append(q)
    out = {}
    for attribute, asked in sorted(by.items()):
        expected = [f"{q.meta['probe']['expected'].capitalize()}." for q in asked]
        budget = token_budget(models["checkpoint"].tokenizer, expected, args.max_new_tokens)
        answers = greedy_answers(models, asked, root, args, budget)
        scores = {name: score_answers(asked, a)[attribute] for name, a in answers.items()}
        got = scores["checkpoint"]
        low, high = wilson_interval(got.right, got.n)
        say(
            f"greedy {attribute}: {got.accuracy:.2f} [{low:.2f}, {high:.2f}] (random init "
            f"{scores['random_init'].accuracy:.2f}, chance {scores['checkpoint'].chance:.2f}, n {len(asked)})"
        )
        out[attribute] = {
            "n": scores["checkpoint"].n,
            "chance": round(scores["checkpoint"].chance, 4),
            "accuracy": round(scores["checkpoint"].accuracy, 4),
            "interval_95": [round(low, 4), round(high, 4)],
            "random_init_accuracy": round(scores["random_init"].accuracy, 4),
            "max_new_tokens": budget,
            "examples": [
                {"question": q.instruction, "expected": q.meta["probe"]["expected"], "answer": a}
                for q, a in zip(asked, answers["checkpoint"])
            ][:3],
        }
    return out


def box_questions(records: list, per_attribute: int) -> list:
    """Up to ``per_attribute`` of the held-out corpus's box questions (a named object's box or corners), one a
    clip, taken in turn from each layout that asks them."""
    from crabplus.evaluate.perception import box_records

    by: dict[str, list] = defaultdict(list)
    seen: set[str] = set()
    for r in box_records(records):
        if clip_of(r) not in seen:
            seen.add(clip_of(r))
            by[r.dataset].append(r)
    return in_turn(by.values(), per_attribute)


def run_boxes(models: dict, asked: list, root: Path, args) -> dict:
    """Where at a segmentation answer's grain: greedy box answers, right at IoU >= 0.5, beside the one constant
    box (the mean of the true boxes) and the random init; with each one's mean IoU."""
    from crabplus.evaluate.perception import score_boxes
    from crabplus.evaluate.proportion import wilson_interval

    budget = token_budget(models["checkpoint"].tokenizer, [q.target for q in asked], args.max_new_tokens)
    answers = greedy_answers(models, asked, root, args, budget)
    scores = {name: score_boxes(asked, a) for name, a in answers.items()}
    got, rnd = scores["checkpoint"], scores["random_init"]
    low, high = wilson_interval(got.hits, got.n)
    say(
        f"greedy box: {got.accuracy:.2f} at IoU >= {got.threshold} (mean IoU {got.mean_iou:.3f}; random init "
        f"{rnd.accuracy:.2f}; the mean box {got.chance:.2f}, mean IoU {got.constant_mean_iou:.3f}; n {got.n})"
    )
    return {
        "n": got.n,
        "chance": round(got.chance, 4),
        "accuracy": round(got.accuracy, 4),
        "interval_95": [round(low, 4), round(high, 4)],
        "random_init_accuracy": round(rnd.accuracy, 4),
        "mean_iou": round(got.mean_iou, 4),
        "random_init_mean_iou": round(rnd.mean_iou, 4),
        "constant_mean_iou": round(got.constant_mean_iou, 4),
        "scored": f"right at IoU >= {got.threshold}; chance: the one constant box that is the mean of the true boxes",
        "max_new_tokens": budget,
        "examples": [
            {"question": q.instruction, "expected": q.target, "answer": a} for q, a in zip(asked, answers["checkpoint"])
        ][:3],
    }


def run_probes(models: dict, sets: dict, root: Path, probe_kwargs: dict) -> tuple[dict, float]:
    """attribute -> {set, n, classes, majority, sites: {site: {model: accuracy}}}; and the feature seconds."""
    from crabplus.evaluate.linear_probe import probe_accuracy

    t0 = time.perf_counter()
    feats = {name: {s: features(p, recs, root) for s, (recs, _) in sets.items() if recs} for name, p in models.items()}
    feature_s = time.perf_counter() - t0
    say(f"features of {sum(len(r) for r, _ in sets.values())} clips x {len(models)} models in {feature_s:.0f} s")
    out = {}
    for set_name, (_, labels) in sets.items():
        for attribute in sorted({a for lab in labels for a in lab}):
            idx = [i for i, lab in enumerate(labels) if attribute in lab]
            ys = [labels[i][attribute] for i in idx]
            entry = {"set": set_name, "n": len(idx), "classes": len(set(ys)), "sites": {}}
            try:
                for site in SITES:
                    results = {m: probe_accuracy(feats[m][set_name][site][idx], ys, **probe_kwargs) for m in MODELS}
                    entry["sites"][site] = {m: round(r.accuracy, 4) for m, r in results.items()}
                    entry["majority"] = round(results["checkpoint"].majority, 4)  # the same splits for every site
            except ValueError as exc:  # too few clips of a class at this scale
                entry = {**entry, "sites": {}, "skipped": str(exc)}
            out[attribute] = entry
            say(
                f"probe {attribute}: "
                + (
                    entry.get("skipped")
                    or " ".join(
                        f"{SHORT[k]} {v['checkpoint']:.2f}/{v['random_init']:.2f}" for k, v in entry["sites"].items()
                    )
                )
            )
    return out, feature_s


def shown(path: Path) -> str:
    """A path inside the repository relative to its root (the JSON is committed), any other as given."""
    repo = Path(__file__).resolve().parents[1]
    resolved = path.resolve()
    return str(resolved.relative_to(repo)) if resolved.is_relative_to(repo) else str(path)


def print_tables(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(150, Console().width))
    greedy = Table(title=f"held-out greedy answers ({result['checkpoint']})")
    for col in ("attribute", "n", "chance", "checkpoint", "95 % interval", "random init"):
        greedy.add_column(col, justify="left" if col == "attribute" else "right")
    for attribute, g in result["greedy"].items():
        interval = "[{:.2f}, {:.2f}]".format(*g["interval_95"]) if "interval_95" in g else "-"
        greedy.add_row(
            attribute,
            str(g["n"]),
            f"{g['chance']:.2f}",
            f"{g['accuracy']:.2f}",
            interval,
            f"{g['random_init_accuracy']:.2f}",
        )
    if result["greedy"]:
        console.print(greedy)
    probes = Table(title="linear probes: checkpoint / random init (majority)")
    probes.add_column("attribute")
    probes.add_column("n", justify="right")
    probes.add_column("majority", justify="right")
    for site in SITES:
        probes.add_column(SHORT[site], justify="right")
    for attribute, p in result["probes"].items():
        cells = [
            f"{p['sites'][s]['checkpoint']:.2f} / {p['sites'][s]['random_init']:.2f}" if s in p["sites"] else "-"
            for s in SITES
        ]
        probes.add_row(attribute, str(p["n"]), f"{p.get('majority', float('nan')):.2f}", *cells)
    if result["probes"]:
        console.print(probes)


def build_parser() -> argparse.ArgumentParser:
    from crabplus.experiments.base import SHIPPED_BASE

    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--checkpoint", default=str(SHIPPED_BASE), help="a base folder (default: the shipped base)")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "perception.json"))
    parser.add_argument("--clips-scale", type=float, default=1.0, help="multiplies the held-out clips per layout")
    parser.add_argument("--seed", type=int, default=7, help="the held-out corpus's seed (the base trains on 0)")
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=16,
        help="new tokens per answer at least (more where an expected answer is longer)",
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--per-attribute", type=int, default=40, help="greedy questions per attribute at most")
    parser.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="frame side (default: the checkpoint's trained one, else the base's 56)",
    )
    parser.add_argument("--work", default=None, help="where the held-out corpus goes (default: a temporary folder)")
    parser.add_argument("--only", choices=("greedy", "probes"), default=None, help="run one of the two parts")
    parser.add_argument("--quick", action="store_true", help="toy sizes (tests): few clips, one probe split")
    return parser


def main(argv: list[str] | None = None) -> int:
    import torch

    args = build_parser().parse_args(argv)
    checkpoint = Path(args.checkpoint)
    weights = checkpoint / "model.safetensors"
    if not weights.is_file():
        print(
            f"--checkpoint {checkpoint}: no model.safetensors (give a base folder, e.g. OUTPUT/base/final)",
            file=sys.stderr,
        )
        return 2
    if args.clips_scale <= 0 or args.per_attribute < 1 or args.batch_size < 1 or args.max_new_tokens < 1:
        print("--clips-scale must be > 0 and --per-attribute, --batch-size, --max-new-tokens >= 1", file=sys.stderr)
        return 2
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run(args, argv, checkpoint)
    finally:
        torch.set_num_threads(threads)


def run(args, argv: list[str] | None, checkpoint: Path) -> int:
    import torch

    from crabplus.evaluate.linear_probe import DEFAULT_CS
    from crabplus.experiments.base import BaseConfig
    from crabplus.utils import stamps
    from crabplus.utils.io import atomic_write_json

    t_start = time.perf_counter()
    plan = QUICK_CLIPS if args.quick else CLIPS
    clips = {k: max(2, round(n * args.clips_scale)) for k, n in plan.items()}
    probe_kwargs = {"splits": 1, "folds": 2, "cs": (1.0,)} if args.quick else {}
    per_attribute = min(args.per_attribute, 2) if args.quick else args.per_attribute
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="crabplus-perception-"))
    seconds = {}
    try:
        t0 = time.perf_counter()
        records = held_out_corpus(work, args.seed, clips)
        seconds["corpus"] = time.perf_counter() - t0
        say(
            f"held-out corpus (seed {args.seed}): {len(records)} records of {sum(clips.values())} clips in "
            f"{seconds['corpus']:.0f} s"
        )
        size = image_size_of(checkpoint, args.image_size)
        models = load_models(checkpoint, size, work / ".cache")
        greedy, probes = {}, {}
        if args.only in (None, "greedy"):
            t0 = time.perf_counter()
            greedy = run_greedy(models, greedy_questions(records, per_attribute), work, args)
            boxes = box_questions(records, per_attribute)
            if boxes:
                greedy["box"] = run_boxes(models, boxes, work, args)
            seconds["greedy"] = time.perf_counter() - t0
        if args.only in (None, "probes"):
            t0 = time.perf_counter()
            probes, seconds["features"] = run_probes(models, probe_sets(records), work, probe_kwargs)
            seconds["probes"] = time.perf_counter() - t0 - seconds["features"]
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    seconds["total"] = time.perf_counter() - t_start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    seconds["cpu"] = usage.ru_utime + usage.ru_stime  # on a shared machine the wall time overstates the work
    result = {
        "command": " ".join(["python benchmarks/perception.py", *(argv if argv is not None else sys.argv[1:])]),
        "checkpoint": shown(checkpoint),
        "checkpoint_sha256": stamps.file_digest(checkpoint / "model.safetensors"),
        "random_init": {"preset": models["checkpoint"].model_cfg.preset, "torch_seed": 0},
        "seed": args.seed,
        "held_out": args.seed != BaseConfig().seed,
        "image_size": size,
        "clips": clips,
        "max_new_tokens": args.max_new_tokens,
        "per_attribute": per_attribute,
        "probe": {
            "method": "standardise, multinomial logistic regression with L2 chosen by stratified CV on the "
            "training part, stratified 70/30 splits, mean test accuracy",
            "splits": probe_kwargs.get("splits", 3),
            "folds": probe_kwargs.get("folds", 3),
            "cs": list(probe_kwargs.get("cs", DEFAULT_CS)),
        },
        "greedy": greedy,
        "probes": probes,
        "threads": torch.get_num_threads(),
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
    }
    atomic_write_json(args.out, result)
    print_tables(result)
    print(f"wrote {args.out} in {seconds['total']:.0f} s ({seconds['cpu']:.0f} CPU s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
