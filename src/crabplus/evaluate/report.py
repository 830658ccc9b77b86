"""Score a prediction run: join predictions with records by id, score each dataset, write the report.

``evaluate_predictions`` returns the report as a :class:`crabplus.schema.report.Report` (``.to_json()`` is
exactly what ``report.json`` holds); ``write_report`` writes
``report.json``, ``report.md`` and the plots (``scores.png``, ``routing.png`` when predictions carry
routing). One row per dataset holds its official metrics (``DatasetSpec.metric``), the headline
``primary`` score, ``n``, the ``unparsed`` count, the release's convention (unparsed/invalid
predictions dropped) and a seeded chance baseline on the same records: the mean of ``chance_draws`` draws,
their 95th-percentile band, and whether the score is beyond it (``beyond_chance``).

Records without a prediction are not scored (they are counted as ``without_prediction``);
predictions whose id matches no record are counted and listed in the notes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from crabplus.evaluate.chance import beyond_chance, chance_predictions, chance_summary
from crabplus.evaluate.config import EvalConfig
from crabplus.evaluate.images import FrameSource
from crabplus.evaluate.inputs import as_prediction_rows
from crabplus.evaluate.routing import routing_summary
from crabplus.evaluate.segscore import SegmentationScorer
from crabplus.schema.records import Record, RecordError
from crabplus.schema.registry import DATASETS
from crabplus.schema.report import (
    ChanceSummary,
    DatasetScore,
    Headline,
    ReleaseScore,
    Report,
    ReportConfig,
    ReportSummary,
)
from crabplus.schema.rows import PredictionRow
from crabplus.tasks.families import Family, Score, ScoreConfig, family_of, higher_is_better
from crabplus.tasks.parsers import Prediction, parse_prediction
from crabplus.utils.io import atomic_write_json, atomic_write_text
from crabplus.utils.progress import progress_bar

MAX_LISTED = 10


def _root_of(root) -> Callable[[Record], Path | None]:
    if root is None:
        return lambda record: None
    if isinstance(root, Mapping):
        return lambda record: Path(root[record.id]) if record.id in root else None
    return lambda record: Path(root)


def _headline(score: Score, family: Family) -> dict[str, Headline]:
    names = [score.primary_metric] if score.primary_metric in score.metrics else []
    names += [m for m in family.extra_headlines if m in score.metrics and m not in names]
    return {n: Headline(score.metrics[n], higher_is_better(n)) for n in names}


NARROW_PROMPT_SPREAD = 0.25
#: a predicted box narrower or shorter than this (pixels of the 224-px frame) is noted as thin
THIN_BOX_PX = 10


def _where(box, points) -> tuple[float, float] | None:
    """Where a prompt points (224-px space): its points' mean, else its box's centre."""
    if points:
        return float(np.mean([p[0] for p in points])), float(np.mean([p[1] for p in points]))
    if box:
        return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return None


def _spread(places: list[tuple[float, float]]) -> float:
    """Mean distance of the places from their centroid (pixels)."""
    xy = np.asarray(places, dtype=float)  # [K, 2]
    return float(np.linalg.norm(xy - xy.mean(0), axis=1).mean())


def _narrow_prompt_note(records: list[Record], preds: list[Prediction]) -> list[str]:
    """A note when the answers point at nearly the same place whatever the frame.

    A prompt that ignores the input still earns a mask score (the segmenter finds whatever stands out
    around it), and that score can pass the chance band, which draws real boxes at random places. So when
    the predicted places spread less than a quarter as much as the ground-truth objects do, the mask
    scores say more about the segmenter than about the model.
    """
    said = [w for p in preds if p.parsed and (w := _where(p.box, p.points)) is not None]
    truth = [w for r in records if (w := _where(r.answer.box, None)) is not None]
    if len(said) < 3 or len(truth) < 3:
        return []
    ours, real = _spread(said), _spread(truth)
    if ours >= NARROW_PROMPT_SPREAD * real:
        return []
    return [
        f"the answers point at nearly the same place in every frame (spread {ours:.0f} px, the objects "
        f"{real:.0f} px): the mask scores measure what the segmenter finds around one prompt, not where "
        f"the model looked"
    ]


def _thin_box_note(preds: list[Prediction]) -> list[str]:
    """A note when answers write boxes a few pixels wide or tall: the corners' numbers do not describe the
    object's extent (a model can say the right side of the frame and still write ``[148,140,148,180]``), and the
    segmenter then has almost nothing to grow a mask from."""
    boxes = [p.box for p in preds if p.parsed and p.box]
    thin = sum(min(b[2] - b[0], b[3] - b[1]) < THIN_BOX_PX for b in boxes)
    if not thin:
        return []
    return [
        f"{thin} of {len(boxes)} boxes are under {THIN_BOX_PX} px wide or tall: the masks grown from them are slivers"
    ]


def _score_dataset(
    name: str,
    records: list[Record],
    preds: list[Prediction],
    seg: SegmentationScorer,
    cfg: EvalConfig,
    without_prediction: int,
) -> DatasetScore:
    spec = DATASETS[name]
    family = family_of(spec)  # bound once; everything below asks it
    spatial = family.spatial  # scored on frames and masks (crabplus.tasks.families)
    k = min(cfg.chance_draws, cfg.mask_chance_draws) if spatial else cfg.chance_draws
    draws = [chance_predictions(family, records, cfg.seed, d) for d in range(k)]  # [K][N]
    keep = [i for i, p in enumerate(preds) if p.release_valid]
    score_cfg = ScoreConfig(meteor=cfg.meteor, frames_per_batch=cfg.frames_per_batch, masks=seg)
    ours, release, chance_scores = family.score_conventions(records, preds, draws, keep, score_cfg)
    chance = chance_summary(chance_scores)
    unparsed = sum(not p.parsed for p in preds)
    notes = list(dict.fromkeys(ours.notes + release.notes + [n for c in chance_scores for n in c.notes]))
    narrow = _narrow_prompt_note(records, preds) if spatial else []
    notes += narrow + (_thin_box_note(preds) if spatial else [])
    if spatial and sum(not p.release_valid for p in preds) != unparsed:
        notes.append(
            f"{len(preds) - len(keep)} predictions the release's stricter box/point regex rejects "
            f"(dropped in its convention)"
        )
    return DatasetScore(
        dataset=name,
        real_name=spec.real_name,
        task=spec.task,
        metric=spec.metric,
        n=len(records),
        unparsed=unparsed,
        primary_metric=ours.primary_metric,
        primary=ours.primary,
        higher_is_better=higher_is_better(ours.primary_metric or ""),
        headline=_headline(ours, family),
        metrics=ours.metrics,
        release=ReleaseScore(
            release.n, release.primary_metric, release.primary, release.metrics, dropped=len(preds) - len(keep)
        ),
        chance=ChanceSummary(**chance),
        beyond_chance=beyond_chance(ours.primary, chance),
        one_place_prompts=bool(narrow),  # the mask score is the segmenter's (see notes)
        notes=notes,
        without_prediction=without_prediction,
    )


def evaluate_predictions(
    records: list[Record],
    predictions,
    root=None,
    *,
    segmenter=None,
    out_dir: str | Path | None = None,
    config: EvalConfig | None = None,
) -> Report:
    """Score ``predictions`` (rows or dicts ``{id, dataset, predict, routing?}``) against ``records``.

    ``root``: the data root media and masks resolve against: one path, a mapping record id -> path
    (what ``crabplus eval`` builds from ``--data``), or None when no dataset needs media.
    ``segmenter``: an object with ``segment(image, box_224, points_224)``; None builds the one
    ``config.segmenter`` names, only if a segmentation dataset is present. With ``out_dir`` the
    report is also written there (:func:`write_report`, which sets the report's ``files``).
    """
    cfg = config or EvalConfig()
    rows: list[PredictionRow] = as_prediction_rows(predictions)
    by_id = {r.id: r for r in records}
    if len(by_id) != len(records):
        raise RecordError("duplicate record ids in the evaluated records")
    unknown = [row.id for row in rows if row.id not in by_id]
    matched = [row for row in rows if row.id in by_id]
    if rows and not matched:
        raise RecordError(
            f"none of the {len(rows)} prediction ids matches a record id "
            f"(first: {rows[0].id!r}); are --predictions and --data from the same split?"
        )
    for row in matched:
        if row.dataset != by_id[row.id].dataset:
            raise RecordError(
                f"prediction says dataset {row.dataset!r}, the record is {by_id[row.id].dataset!r}",
                record_id=row.id,
                field="dataset",
            )
    pred_of = {row.id: row for row in matched}

    def factory():
        if segmenter is not None:
            return segmenter
        from crabplus.segment import build_segmenter

        return build_segmenter(cfg.segmenter, cfg.sam2_checkpoint)

    seg = SegmentationScorer(FrameSource(_root_of(root)), factory)
    datasets: dict[str, DatasetScore] = {}
    with progress_bar("eval", total=2 * len(matched)) as bar:  # each row parsed, then scored with its dataset
        for name in DATASETS:  # the registry as it is now (a row added at run time is scored too)
            recs = [r for r in records if r.dataset == name and r.id in pred_of]
            if not recs:
                continue
            preds = []
            for r in recs:
                preds.append(parse_prediction(name, pred_of[r.id].predict, options=r.answer.options))
                bar.update(1, info=name)
            missing = sum(1 for r in records if r.dataset == name and r.id not in pred_of)
            datasets[name] = _score_dataset(name, recs, preds, seg, cfg, missing)
            bar.update(len(recs), info=f"{name} scored")
    notes = []
    if unknown:
        notes.append(f"{len(unknown)} predictions match no record id (first: {', '.join(unknown[:MAX_LISTED])})")
    report = Report(
        summary=ReportSummary(
            records=len(records),
            predictions=len(rows),
            scored=sum(d.n for d in datasets.values()),
            unparsed=sum(d.unparsed for d in datasets.values()),
            without_prediction=sum(1 for r in records if r.id not in pred_of),
            unknown_predictions=len(unknown),
        ),
        config=ReportConfig(
            segmenter=seg.used_name,
            seed=cfg.seed,
            chance_draws=cfg.chance_draws,
            mask_chance_draws=min(cfg.chance_draws, cfg.mask_chance_draws),
            frames_per_batch=cfg.frames_per_batch,
            meteor=cfg.meteor,
        ),
        datasets=datasets,
        routing=routing_summary(matched),
        notes=notes,
    )
    if out_dir is not None:
        write_report(report, out_dir)
    return report


def write_report(report: Report, out_dir: str | Path) -> dict[str, str]:
    """Write ``report.json``, ``report.md``, ``scores.png`` and (with routing) ``routing.png``
    into ``out_dir``; returns the file names written (also stored in ``report.files``)."""
    from crabplus.evaluate.markdown import render_report
    from crabplus.evaluate.plots import plot_routing, plot_scores

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    if plot_scores(report, out / "scores.png") is not None:
        files["scores_plot"] = "scores.png"
    if plot_routing(report.routing, out / "routing.png") is not None:
        files["routing_plot"] = "routing.png"
    files["markdown"] = "report.md"
    files["json"] = "report.json"
    report.files = files
    atomic_write_text(out / "report.md", render_report(report))
    atomic_write_json(out / "report.json", report.to_json())
    return files
