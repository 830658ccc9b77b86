"""The perception-pretrained base: the tiny backbone that every adapter run starts from.

It stands in for a pretrained Qwen2.5-Omni: a random tiny thinker trained on the perception corpus only
(``crabplus.synth.pretrain``: plain questions and answers about AVSynth clips of its own seed range —
never the 19 datasets' clips, instructions or tagged answers). All task learning then happens in the
adapters, where the paper's transfer effects live.

It is made once and shipped in the package (``crabplus/assets/base``, with ``PROVENANCE.md`` giving the
command and seed), so ``crabplus demo`` spends its minutes on instruction tuning. To make it again::

    python -m crabplus.experiments.base --out runs/base            # then compare, or --ship to replace it

The modular family's base (Crab's paradigm, ``model.family=modular``) is made as Crab's is: separately
pretrained encoders (stage 0 on the modular towers, written as a CLIP and a Whisper folder), an already-trained
LLM kept frozen (the unified base's, ``llm_from``, written as a Qwen2 folder: :mod:`crabplus.model.modular.parts`)
and the projectors alone trained on the perception corpus, the checkpoint chosen by the same held-out answers::

    python -m crabplus.experiments.base --out runs/mbase model.family=modular

Its stages (the corpus, the base training) follow the demo's reuse rule (``crabplus.experiments.stages``): a
finished output stamped with the same configuration and inputs is not made again.
"""

from __future__ import annotations

import argparse
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from crabplus.config.core import ConfigError, apply_overrides, to_dict
from crabplus.data.config import DataConfig
from crabplus.experiments import stages
from crabplus.model.config import ModelConfig
from crabplus.synth.config import SynthConfig
from crabplus.train.config import TrainConfig
from crabplus.train.encoders import EncoderStageConfig
from crabplus.train.run_config import RunConfig
from crabplus.utils import stamps
from crabplus.utils.dist import print0
from crabplus.utils.io import atomic_write_json, atomic_write_text

#: where the shipped base lives inside the installed package
SHIPPED_BASE = Path(__file__).resolve().parent.parent / "assets" / "base"
CORPUS_DIR = "corpus"
VAL_DIR = "val"
CHOSEN_DIR = "chosen"
STAGE1_DIR = "chosen_stage1"
REFINE_DIR = "refine_corpus"
PARTS_DIR = "parts"
#: the validation corpus's seed is the base's seed plus this (its clips are then none of the training corpus's)
VAL_SEED_OFFSET = 1000
#: the refinement corpus's seed is the base's seed plus this: new clips, none of stage 1's or the validation's
REFINE_SEED_OFFSET = 2
#: stage 2's new clips per layout: the layouts of what stage 1 left weakest on validation (where a named object
#: is, its colour and shape, how it moves, which clip or track goes with a sound); no faces (voice, mood and the
#: face were at 0.95 or above), whose records stay in the mix through stage 1's corpus
REFINE_CLIPS = {"pt_still": 1200, "pt_still10": 400, "pt_scene": 800, "pt_pair": 300, "pt_sounds": 300}
#: the seen attributes whose questions of the new clips stage 2 takes REFINE_AGAIN times over: a focused run on
#: them alone (1,500 x 8) had lifted where/colour/shape/count, a run with them at their share of the mix had not
AGAIN_ATTRIBUTES = frozenset({"colour", "shape", "position", "quadrant", "count", "motion"})
REFINE_AGAIN = 3
AGAIN_DIR = "again"


@dataclass(frozen=True)
class RefineFocus:
    """What stage 2's new clips dwell on: ``clips`` per layout, the attributes whose questions are taken
    :data:`REFINE_AGAIN` times over, and whether the two matching layouts ask what each joined half holds
    (``order``: ``crabplus.synth.pretrain.generate_corpus``)."""

    clips: dict[str, int]
    again: frozenset[str]
    order: bool = False


#: ``refine_focus`` -> what stage 2 dwells on. ``seen``: the seen attributes (the shipped base's second run).
#: ``halves``: also the two matching layouts, three times their clips, with ``order`` questions and their
#: matching questions taken again — the base named the second half of a joined pair for both halves (the first
#: clip right for 1 of 12 validation pair clips, the second for 11), so it could not tell which one sounds
REFINE_FOCUS = {
    "seen": RefineFocus(REFINE_CLIPS, AGAIN_ATTRIBUTES),
    "halves": RefineFocus(
        {**REFINE_CLIPS, "pt_pair": 900, "pt_sounds": 900}, AGAIN_ATTRIBUTES | {"order", "matching"}, order=True
    ),
}


def base_train() -> TrainConfig:
    """Stage 1 (alignment): the LLM learns to read the pretrained towers, which stay frozen with their projections
    (``encoder_lr_scale=0``: on held-out validation answers it scored 0.559 against 0.551 with the towers at a
    tenth of the rate; with the projections at the full rate the vision tokens collapsed, docs/results.md)."""
    return TrainConfig(
        stage="base",
        max_steps=5000,
        learning_rate=1e-3,
        batch_size=4,
        save_steps=500,
        save_total_limit=0,
        sampling_balance="dataset",
        log_routing=False,
        encoder_lr_scale=0.0,
    )


def refine_train() -> TrainConfig:
    """Stage 2 (refinement): stage 1's chosen model trains on, on its corpus plus as many new clips
    (:data:`REFINE_CLIPS`), in batches of 8. Stage 1 saw under one pass of its corpus and its validation answers
    had stopped improving on the seen attributes (where, colour, shape at 0.04-0.40); more of the seen world,
    in bigger batches, is what moved them (docs/results.md)."""
    return replace(base_train(), max_steps=4000, batch_size=8, save_steps=1000)


@dataclass
class BaseConfig:
    """How the base is made. ``synth``: the rendering settings of the corpus's clips (the demo's: 56 px,
    2 fps, 10 s scenes, 5 s stills, 4 s faces) and its seed; ``corpus_scale`` multiplies the clips per
    layout (``crabplus.synth.pretrain.DEFAULT_CLIPS``); ``train``: the base stage (every weight trains);
    ``encoders``: stage 0, the towers trained on the corpus's ground truth (``crabplus.train.encoders``);
    ``val_clips_scale``: the size of the validation corpus (its own seed, ``seed + 1000``) whose held-out greedy
    answers choose the alignment checkpoint (``crabplus.evaluate.perception``), as a multiple of the default clips.
    ``threads``: torch CPU threads (the shipped base was made with 1, which also keeps it fast on a busy
    machine; another count sums floats in another order, so the bytes differ; None leaves torch's setting).
    ``refine``: stage 2, from stage 1's chosen model on its corpus plus ``refine_clips_scale`` times
    the new clips of ``refine_focus`` (:data:`REFINE_FOCUS`; seed ``seed + REFINE_SEED_OFFSET``), the checkpoint
    chosen again by the same validation answers (stage 1's model is one of the candidates); None stops after
    stage 1. ``start_from``: a stage-1 model to refine instead of making stages 0 and 1 (the shipped base was
    refined from the base shipped before it, which those stages had made: its PROVENANCE.md says how); the modular
    family stops after stage 1 (its frozen LLM is a unified base's, refined already), unless ``refine_modular``:
    then stage 2 runs on it too, with its LLM and projectors training (no longer Crab's frozen LLM; with grid
    positions it is what brought the place to a modular base's answers, docs/results.md).
    ``llm_from``: a modular base only — the saved unified thinker whose LLM and tokenizer are its frozen LLM (None:
    the shipped base); unused when ``model.modular.vision/audio/llm`` name released parts (no stage 0 then)."""

    output_dir: str = "runs/base"
    seed: int = 0
    synth: SynthConfig = field(default_factory=lambda: SynthConfig(per_dataset=100, workers=0))
    corpus_scale: float = 1.0
    data: DataConfig = field(default_factory=lambda: DataConfig(image_size=56))
    model: ModelConfig = field(default_factory=lambda: ModelConfig(preset="tiny", adapter="none"))
    train: TrainConfig = field(default_factory=base_train)
    encoders: EncoderStageConfig = field(default_factory=EncoderStageConfig)
    val_clips_scale: float = 0.04
    threads: int | None = 1
    refine: TrainConfig | None = field(default_factory=refine_train)
    refine_clips_scale: float = 1.0
    refine_focus: str = "seen"
    refine_modular: bool = False
    start_from: str | None = None
    llm_from: str | None = None

    def __post_init__(self) -> None:
        if self.corpus_scale <= 0:
            raise ConfigError(f"corpus_scale must be > 0, got {self.corpus_scale}")
        if self.refine_focus not in REFINE_FOCUS:
            raise ConfigError(f"refine_focus must be one of {sorted(REFINE_FOCUS)}, got {self.refine_focus!r}")
        if self.refine_clips_scale <= 0:
            raise ConfigError(f"refine_clips_scale must be > 0, got {self.refine_clips_scale}")
        if self.start_from is not None and self.refine is None:
            raise ConfigError("start_from names a model to refine, but refine is null")
        if self.refine is not None and self.refine.stage != "base":
            raise ConfigError("the refinement stage trains with refine.stage=base")
        if self.refine_modular and (self.model.family != "modular" or self.refine is None):
            raise ConfigError("refine_modular needs model.family=modular and a refine stage (refine is null)")
        if self.train.stage != "base" or self.model.adapter != "none":
            raise ConfigError("the base is trained with train.stage=base and model.adapter=none")


def corpus_clips(scale: float, clips: dict[str, int] | None = None) -> dict[str, int]:
    from crabplus.synth.pretrain import DEFAULT_CLIPS

    return {k: max(2, round(n * scale)) for k, n in (DEFAULT_CLIPS if clips is None else clips).items()}


def make_corpus(
    cfg: BaseConfig, out: Path, workers: int = 1, folder: str = CORPUS_DIR, refine: RefineFocus | None = None
) -> Path:
    """Generate the corpus into ``out/corpus`` unless a stamped one with the same settings is there (the stages'
    reuse rule, ``crabplus.utils.stamps``; ``workers`` never changes the bytes, so it is not part of the key).
    ``refine``: a refinement corpus instead — ``refine.clips`` per layout, ``refine.order`` questions on the
    matching layouts, and ``AGAIN_DIR/train.jsonl``, its questions on ``refine.again`` :data:`REFINE_AGAIN` times
    over (the same clips; sampling in proportion to records then gives them that much more of the steps)."""
    from crabplus.synth.pretrain import CORPUS_VERSION, generate_corpus

    corpus = out / folder
    wanted = {
        "synth": {k: v for k, v in to_dict(cfg.synth).items() if k != "workers"},
        "clips": corpus_clips(cfg.corpus_scale, refine.clips if refine else None),
        "version": CORPUS_VERSION,
        "seed": cfg.seed,
    }
    if refine:
        wanted["again"] = {"times": REFINE_AGAIN, "attributes": sorted(refine.again)}
    order = bool(refine and refine.order)
    if order:  # absent otherwise: the stamps of corpora made before the key existed still match
        wanted["order"] = True
    t0 = time.perf_counter()

    def make() -> None:
        summary = generate_corpus(corpus, replace(cfg.synth, seed=cfg.seed), wanted["clips"], workers, order)
        n = sum(c["records"] for c in summary["counts"].values())
        if refine:
            n += write_again(corpus, REFINE_AGAIN, refine.again)
        print0(
            f"[base] perception corpus: {n} records of {sum(wanted['clips'].values())} clips in "
            f"{time.perf_counter() - t0:.1f} s -> {corpus}"
        )

    if stamps.run_once(corpus, wanted, {}, make):
        print0(f"[base] reusing the perception corpus in {corpus}")
    return corpus


def write_again(corpus: Path, times: int, attributes: frozenset[str]) -> int:
    """Write ``corpus/AGAIN_DIR/train.jsonl``: each question of the corpus on one of ``attributes``,
    ``times`` times (ids ``<id>-again<k>``); its media paths stay relative to ``corpus``, which its
    ``corpus.json`` marks as their root. Returns the records written."""
    from crabplus.schema.records import load_records, write_records

    again = [
        replace(r, id=f"{r.id}-again{k}")
        for f in sorted(corpus.glob("*/train.jsonl"))
        for r in load_records(f)
        if (r.meta.get("probe") or {}).get("attribute") in attributes
        for k in range(times)
    ]
    write_records(corpus / AGAIN_DIR / "train.jsonl", again)
    return len(again)


def base_run_config(cfg: BaseConfig, out: Path, corpus: Path) -> RunConfig:
    files = sorted(str(p) for p in corpus.glob("*/train.jsonl"))
    data = replace(cfg.data, train=files, root=str(corpus), cache_dir=cfg.data.cache_dir or str(out / "cache"))
    return RunConfig(
        name="base", output_dir=str(out / "base"), seed=cfg.seed, data=data, model=cfg.model, train=cfg.train
    )


def pretrain_base(cfg: BaseConfig, workers: int = 1) -> Path:
    """Corpus, stage 0 (the towers), stage 1 (alignment), stage 2 (refinement), each stage's checkpoint chosen by
    held-out greedy answers; returns the chosen model's folder (``OUT/chosen``)."""
    before = torch.get_num_threads()
    if cfg.threads is not None and cfg.threads != before:
        torch.set_num_threads(cfg.threads)
    try:
        out = Path(cfg.output_dir)
        corpus = make_corpus(cfg, out, workers)
        run_cfg = base_run_config(cfg, out, corpus)
        val = make_corpus(
            replace(cfg, seed=cfg.seed + VAL_SEED_OFFSET, corpus_scale=cfg.val_clips_scale),
            out,
            workers,
            folder=VAL_DIR,
        )
        refining = cfg.refine is not None and (cfg.model.family == "unified" or cfg.refine_modular)
        if cfg.start_from is None:
            aligned = _align(cfg, out, corpus, run_cfg, val, out / (STAGE1_DIR if refining else CHOSEN_DIR))
        else:
            aligned = Path(cfg.start_from)
            if not (aligned / "model.safetensors").is_file():
                raise ConfigError(f"start_from: {aligned} holds no model.safetensors (a chosen base folder)")
        if not refining:
            return aligned
        more = make_corpus(
            replace(cfg, seed=cfg.seed + REFINE_SEED_OFFSET, corpus_scale=cfg.refine_clips_scale),
            out,
            workers,
            folder=REFINE_DIR,
            refine=REFINE_FOCUS[cfg.refine_focus],
        )
        files = sorted(str(p) for c in (corpus, more) for p in c.glob("*/train.jsonl"))
        refine_cfg = refine_run_config(cfg, out, run_cfg, files, aligned)
        final = stages.train(refine_cfg)
        return choose_checkpoint(
            out / "refine", final, val, out / CHOSEN_DIR, cache_dir=run_cfg.data.cache_dir, also=(aligned,)
        )
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def refine_run_config(cfg: BaseConfig, out: Path, run_cfg: RunConfig, files: list[str], aligned: Path) -> RunConfig:
    """Stage 2's run: from the stage-1 model ``aligned`` on ``files`` (the corpus and the new clips, each corpus
    the root of its own media: corpus.json marks it, schema.records.default_root). A modular base
    (``refine_modular``) trains its LLM with its projectors here."""
    model = replace(cfg.model, checkpoint=str(aligned))
    if cfg.model.family == "modular":
        model = replace(model, modular=replace(model.modular, trainable=["projectors", "llm"]))
    return RunConfig(
        name="refine",
        output_dir=str(out / "refine"),
        seed=cfg.seed,
        data=replace(run_cfg.data, train=files, root=None),
        model=model,
        train=cfg.refine,
    )


def _align(cfg: BaseConfig, out: Path, corpus: Path, run_cfg: RunConfig, val: Path, dest: Path) -> Path:
    """Stages 0 and 1: the towers on the corpus's ground truth, then the LLM reading them; the stage-1
    checkpoint with the best validation answers is copied to ``dest``."""
    from crabplus.experiments.encoders import pretrain_encoders

    if not cfg.model.names_parts:  # stage 0: the towers (a modular model given parts has them)
        towers = pretrain_encoders(
            corpus,
            out,
            cfg.model,
            cfg.encoders,
            seed=cfg.seed,
            image_size=cfg.data.image_size,
            cache_dir=run_cfg.data.cache_dir,
        )
        run_cfg = replace(run_cfg, model=starting_model(cfg, towers, out))
    final = stages.train(run_cfg)
    return choose_checkpoint(Path(run_cfg.output_dir), final, val, dest, cache_dir=run_cfg.data.cache_dir)


def starting_model(cfg: BaseConfig, towers: Path, out: Path) -> ModelConfig:
    """What stage 1 starts from: the unified thinker saved by stage 0; for a modular model, the parts folder
    ``out/parts`` (stage 0's towers as a CLIP and a Whisper checkpoint, the LLM of ``llm_from``), loaded as
    released parts are, with new projectors (``model.modular.trainable``: the projectors alone by default)."""
    if cfg.model.family == "unified":
        return replace(cfg.model, checkpoint=str(towers))
    from crabplus.model.modular.parts import export_towers, export_unified_llm
    from crabplus.train.recipe import build_model

    llm_from = Path(cfg.llm_from) if cfg.llm_from else SHIPPED_BASE
    parts = out / PARTS_DIR
    inputs = {"towers": stamps.input_digest(towers), "llm": stamps.file_digest(llm_from / "model.safetensors")}

    def make() -> None:
        _, model = build_model(replace(cfg.model, checkpoint=str(towers)))
        export_towers(model, parts)
        export_unified_llm(llm_from, parts / "llm")
        print0(f"[base] parts: stage 0's towers and the frozen LLM of {llm_from} -> {parts}")

    if stamps.run_once(parts, {"stage": "parts"}, inputs, make):
        print0(f"[base] reusing the parts in {parts}")
    modular = replace(
        cfg.model.modular, vision=str(parts / "vision"), audio=str(parts / "audio"), llm=str(parts / "llm")
    )
    return replace(cfg.model, checkpoint=None, modular=modular)


def choose_checkpoint(
    run_dir: Path,
    final: Path,
    val_corpus: Path,
    dest: Path,
    *,
    cache_dir: str | None,
    max_new_tokens: int = 12,
    also: tuple[Path, ...] = (),
) -> Path:
    """Score every saved checkpoint of a stage (and ``final``, and the models in ``also``: the one the stage
    started from) by greedy answers to the validation corpus's perception-dense questions (the unweighted mean
    accuracy over attributes, :mod:`crabplus.evaluate.perception`) and copy the best model into ``dest`` with
    ``selection.json`` — chosen by held-out answers, not by loss."""
    from crabplus.evaluate.perception import mean_accuracy, probe_records, score_answers
    from crabplus.infer.batch import predict_records
    from crabplus.schema.records import load_records
    from crabplus.train import checkpoint as ckpt

    # final/ is the last step's model, which its checkpoint already holds: each distinct model is scored once
    by_digest: dict[str, Path] = {}
    for path in [*also, *(p for _, p in ckpt.list_checkpoints(run_dir)), final]:
        by_digest.setdefault(stamps.file_digest(path / "model.safetensors"), path)
    candidates = list(by_digest.values())
    records = probe_records([r for f in sorted(val_corpus.glob("*/train.jsonl")) for r in load_records(f)])
    inputs = {"candidates": {p.name: d for d, p in by_digest.items()}, "val": stamps.input_digest(val_corpus)}

    def make() -> None:
        scores = {}
        for path in candidates:
            rows = predict_records(
                str(path),
                records,
                val_corpus,
                batch_size=16,
                max_new_tokens=max_new_tokens,
                record_routing=False,
                progress=False,
                cache_dir=cache_dir,
            )
            per = score_answers(records, [r.predict for r in rows])
            scores[path.name] = {"mean": round(mean_accuracy(per), 4), **{k: v.to_json() for k, v in per.items()}}
            print0(
                f"[base] {path.name}: held-out perception {scores[path.name]['mean']:.3f} "
                + " ".join(f"{k} {v.accuracy:.2f}" for k, v in per.items())
            )
        best = max(candidates, key=lambda p: scores[p.name]["mean"])
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(best, dest, ignore=shutil.ignore_patterns(*ckpt.RESUME_FILES))
        atomic_write_json(dest / "selection.json", {"chosen": best.name, "records": len(records), "scores": scores})
        print0(f"[base] chose {best.name} (held-out perception {scores[best.name]['mean']:.3f}) -> {dest}")

    if stamps.run_once(dest, {"stage": "choose", "max_new_tokens": max_new_tokens}, inputs, make):
        print0(f"[base] reusing the chosen base in {dest}")
    return dest


def ship(
    final: Path,
    dest: Path,
    command: str,
    cfg: BaseConfig,
    elapsed_s: float | None,
    after: tuple[str, ...] = (),
) -> None:
    """Copy a trained base into the package with its provenance (command, seed, hash). A base refined from a
    stage-1 model given by ``start_from`` records the one command that makes every stage from nothing (``command``
    without ``start_from``: what the regeneration test runs) beside the command that was run, and the stage-1
    model's hash. ``after``: the commands that made the ``start_from`` model, in order, when that was not this
    command's own stages 0 and 1 (a base refined twice); the regeneration test then runs them and this one."""
    started = Path(cfg.start_from) if cfg.start_from else None
    start_digest = stamps.file_digest(started / "model.safetensors") if started else None
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(final, dest, ignore=shutil.ignore_patterns("run_config.yaml", ".*"))
    _ship_run_config(final / "run_config.yaml", dest / "run_config.yaml")
    digest = stamps.file_digest(dest / "model.safetensors")
    whole = after[0] if after else " ".join(w for w in command.split() if not w.startswith("start_from="))
    clips = corpus_clips(cfg.corpus_scale)
    lines = [
        "# The shipped perception-pretrained base",
        "",
        "The tiny thinker every adapter run of `crabplus demo` starts from, trained on the perception corpus "
        'only (docs/avsynth.md, "The perception corpus"). Every stage from nothing'
        + (
            f", in {len(after) + 1} runs, each refining the model the one before it chose (`start_from`):"
            if after
            else ":"
        ),
        "",
        "```bash",
        *([*after, command] if after else [whole]),
        "```",
        "",
        *(["The last run's settings (the first run's are its command's defaults):", ""] if after else []),
        f"- seed: {cfg.seed}; torch {torch.__version__}, {cfg.threads} CPU threads",
        f"- corpus: {sum(clips.values())} clips ({', '.join(f'{k} {v}' for k, v in clips.items())})",
        f"- stage 0 (the towers): {cfg.encoders.steps} steps x {cfg.encoders.batch_size} clips, lr "
        f"{cfg.encoders.learning_rate}",
        f"- stage 1 (alignment): {cfg.train.max_steps} steps x {cfg.train.batch_size} samples, lr "
        f"{cfg.train.learning_rate}, towers at {cfg.train.encoder_lr_scale} of it; the checkpoint chosen by "
        f"held-out answers",
    ]
    if cfg.refine is not None:
        focus = REFINE_FOCUS[cfg.refine_focus]
        more = corpus_clips(cfg.refine_clips_scale, focus.clips)
        lines.append(
            f"- stage 2 (refinement): {cfg.refine.max_steps} steps x {cfg.refine.batch_size} samples, lr "
            f"{cfg.refine.learning_rate}, on the corpus plus {sum(more.values())} new clips (seed "
            f"{cfg.seed + REFINE_SEED_OFFSET}: {', '.join(f'{k} {v}' for k, v in more.items())}), their questions on "
            f"{', '.join(sorted(focus.again))} taken {REFINE_AGAIN} times"
            + ("; the matching layouts ask what each joined half holds" if focus.order else "")
            + "; the checkpoint chosen by held-out "
            "answers among its own and stage 1's model (selection.json beside this file)"
        )
    if elapsed_s and not after:
        lines.append(f"- {elapsed_s:.0f} s on the 2-core development machine (the run below, if two)")
    if after:
        lines += ["", f"- the model the last run started from: sha256 `{start_digest}`"]
    elif started is not None:
        lines += [
            "",
            "It was made in two runs: stages 0 and 1 by the base shipped before it (model.safetensors sha256 "
            f"`{start_digest}`, which that command without stage 2 made), then stage 2 from it:",
            "",
            "```bash",
            command,
            "```",
        ]
    lines += [
        "",
        f"- model.safetensors sha256: `{digest}`",
        "",
        "`tests/test_shipped_base.py::test_regenerate_shipped_base` (slow) runs "
        + ("these commands in order" if after else "the command from nothing")
        + " and compares.",
    ]
    (dest / "PROVENANCE.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    atomic_write_json(
        dest / "provenance.json",
        {
            "command": whole,
            "run": command,
            "runs": [*after, command] if after else None,
            "start_from_sha256": start_digest,
            "seed": cfg.seed,
            "sha256": digest,
            "config": to_dict(replace(cfg, start_from=None)),
        },
    )


def _ship_run_config(source: Path, dest: Path) -> None:
    """The run config of the shipped base, so that every path predicts at the frame size it was trained on
    (``crabplus.infer.predictor.trained_image_size``), with no path of the machine that made it: the model it
    started from (stage 0's towers) is folded into it, and its data and output folders are the command's own."""
    import yaml

    data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    data.setdefault("model", {})["checkpoint"] = None
    for key in ("root", "cache_dir"):
        if (data.get("data") or {}).get(key):
            data["data"][key] = Path(data["data"][key]).name
    if (data.get("data") or {}).get("train"):
        data["data"]["train"] = [str(Path(*Path(p).parts[-2:])) for p in data["data"]["train"]]
    data["output_dir"] = Path(data.get("output_dir") or "base").name
    atomic_write_text(
        dest,
        "# the run that made the shipped base (paths relative to its output folder)\n"
        + yaml.safe_dump(data, sort_keys=False),
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m crabplus.experiments.base`` (tests/test_docs.py parses the docs' lines)."""
    parser = argparse.ArgumentParser(prog="python -m crabplus.experiments.base", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/base", help="output folder (corpus, cache, base stage)")
    parser.add_argument("--workers", type=int, default=1, help="processes rendering the corpus (same bytes)")
    parser.add_argument("--ship", action="store_true", help="copy the result into crabplus/assets/base")
    parser.add_argument(
        "--after",
        action="append",
        default=[],
        metavar="COMMAND",
        help="with --ship and start_from: a command that made the start_from model (repeat, in order)",
    )
    parser.add_argument("--corpus-only", action="store_true", help="write the corpus (OUT/corpus) and stop")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides of BaseConfig")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    cfg = apply_overrides(BaseConfig(output_dir=args.out), args.overrides)
    if args.after and (cfg.start_from is None or not args.ship):
        parser.error("--after names the runs that made the start_from model: it needs start_from=... and --ship")
    if args.corpus_only:
        make_corpus(cfg, Path(cfg.output_dir), args.workers)
        return 0
    t0 = time.perf_counter()
    final = pretrain_base(cfg, args.workers)
    elapsed = time.perf_counter() - t0
    if elapsed < 60:  # every stage was reused: this call's time says nothing of how long the base takes to make
        elapsed = None
    print0(f"[base] {final} (model.safetensors sha256 {stamps.file_digest(final / 'model.safetensors')})")
    if args.ship:
        command = " ".join(["python -m crabplus.experiments.base", "--out", args.out, *args.overrides])
        ship(final, SHIPPED_BASE, command, cfg, elapsed, after=tuple(args.after))
        print0(f"[base] shipped to {SHIPPED_BASE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
