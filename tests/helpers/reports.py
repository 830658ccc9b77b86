"""Whole evaluation reports built through the real types (crabplus.schema.report), for tests of what reads
reports (the transfer table, the seed study): only the headline numbers vary, the rest is a valid filler."""

from __future__ import annotations

from crabplus.schema.report import (
    ChanceSummary,
    DatasetScore,
    Headline,
    ReleaseScore,
    Report,
    ReportConfig,
    ReportSummary,
)


def dataset_score(
    name: str, headline: dict[str, tuple[float, bool]], chance: tuple[float, float] | None = None
) -> DatasetScore:
    """A dataset row whose primary metric is the first of ``headline`` (metric -> (value, higher_is_better));
    ``chance`` (mean, band) of the primary metric, or no chance numbers."""
    primary_metric, (value, higher) = next(iter(headline.items()))
    metrics = {m: v for m, (v, _) in headline.items()}
    mean, band = chance if chance is not None else (None, None)
    return DatasetScore(
        dataset=name,
        real_name=name.upper(),
        task="classification",
        metric=primary_metric,
        n=4,
        unparsed=0,
        primary_metric=primary_metric,
        primary=value,
        higher_is_better=higher,
        headline={m: Headline(v, h) for m, (v, h) in headline.items()},
        metrics=metrics,
        release=ReleaseScore(4, primary_metric, value, dict(metrics), dropped=0),
        chance=ChanceSummary(
            4,
            primary_metric,
            mean,
            {} if mean is None else {primary_metric: mean},
            band,
            {} if band is None else {primary_metric: band},
            band_quantile=0.95,
            draws=20,
        ),
        beyond_chance=None if band is None else (value > band if higher else value < band),
        one_place_prompts=False,
        notes=[],
        without_prediction=0,
    )


def make_report(*rows: DatasetScore) -> Report:
    """A report holding ``rows`` (what ``evaluate_predictions`` returns; ``.to_json()`` is its report.json)."""
    n = sum(r.n for r in rows)
    return Report(ReportSummary(n, n, n, 0, 0, 0), ReportConfig(None, 0, 20, 5, 20, True), {r.dataset: r for r in rows})
