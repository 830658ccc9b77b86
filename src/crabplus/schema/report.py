"""Typed evaluation reports and transfer tables: a typed view of ``report.json`` and ``transfer.json``.

Why: a report is written by one part (``evaluate``) and read by several (the Markdown and the plots, the
transfer analysis, the seed study, the demo), and users and the docs read the JSON itself. These
dataclasses are that JSON, key for key: ``X.from_json(obj).to_json() == obj`` for every file crabplus
writes (same keys, same order, same values), and a file that is not one fails on reading with a
:class:`ReportError` naming the file and the field (``datasets.ks.chance.band``), not with a KeyError
three modules later. The numbers themselves are defined where they are computed
(``crabplus.evaluate.report``, ``crabplus.evaluate.transfer``; docs/evaluation.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crabplus.utils.errors import CrabplusError

#: The ``format`` of every ``report.json`` crabplus writes.
REPORT_FORMAT = "crabplus-eval-report/1"

Metrics = dict[str, float | None]


class ReportError(CrabplusError, ValueError):
    """A report or transfer table that does not have the documented shape; names the file and field."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None):
        self.file, self.field = file, field
        where = ": ".join(x for x in (file, field) if x)
        super().__init__(f"{where}: {message}" if where else message)


class _Reader:
    """Reads the fields of one JSON object, naming ``file`` and the dotted field path on any error."""

    def __init__(self, obj: Any, path: str, file: str | None):
        self.path, self.file = path, file
        if not isinstance(obj, dict):
            raise ReportError(f"expected an object, got {type(obj).__name__}", file=file, field=path or None)
        self.obj = obj

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str):
        raise ReportError(message, file=self.file, field=self.name(key))

    def check_keys(self, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
        missing = [k for k in required if k not in self.obj]
        if missing:
            self.fail(missing[0], "missing")
        unknown = sorted(set(self.obj) - set(required) - set(optional))
        if unknown:
            self.fail(unknown[0], f"unknown key (expected {', '.join(required + optional)})")

    def get(self, key: str, kind: str, *, none: bool = False) -> Any:
        """``obj[key]`` checked against ``kind`` (str, int, num, bool, dict, list); None only with ``none``."""
        value = self.obj.get(key)
        if value is None:
            if none:
                return None
            self.fail(key, "missing or null")
        ok = {
            "str": isinstance(value, str),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "num": isinstance(value, int | float) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "dict": isinstance(value, dict),
            "list": isinstance(value, list),
        }[kind]
        if not ok:
            self.fail(key, f"expected {kind}, got {type(value).__name__} {value!r}")
        return value

    def sub(self, key: str) -> _Reader:
        return _Reader(self.obj.get(key), self.name(key), self.file)

    def metrics(self, key: str) -> Metrics:
        values = self.get(key, "dict")
        for name, v in values.items():
            if v is not None and (not isinstance(v, int | float) or isinstance(v, bool)):
                self.fail(f"{key}.{name}", f"expected a number or null, got {v!r}")
        return dict(values)

    def strings(self, key: str) -> list[str]:
        values = self.get(key, "list")
        if not all(isinstance(v, str) for v in values):
            self.fail(key, f"expected a list of strings, got {values!r}")
        return list(values)


# ---------------------------------------------------------------------------------------------
# the evaluation report
# ---------------------------------------------------------------------------------------------


@dataclass
class Headline:
    """One headline metric of a dataset (its primary metric; Ref-AVS adds null S)."""

    value: float | None
    higher_is_better: bool

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "higher_is_better": self.higher_is_better}

    @classmethod
    def read(cls, r: _Reader) -> Headline:
        r.check_keys(("value", "higher_is_better"))
        return cls(r.get("value", "num", none=True), r.get("higher_is_better", "bool"))


@dataclass
class ReleaseScore:
    """The score in the release's convention: unparsed (and regex-invalid) predictions dropped."""

    n: int
    primary_metric: str | None
    primary: float | None
    metrics: Metrics
    dropped: int

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "primary_metric": self.primary_metric,
            "primary": self.primary,
            "metrics": self.metrics,
            "dropped": self.dropped,
        }

    @classmethod
    def read(cls, r: _Reader) -> ReleaseScore:
        r.check_keys(("n", "primary_metric", "primary", "metrics", "dropped"))
        return cls(
            r.get("n", "int"),
            r.get("primary_metric", "str", none=True),
            r.get("primary", "num", none=True),
            r.metrics("metrics"),
            r.get("dropped", "int"),
        )


@dataclass
class ChanceSummary:
    """The seeded chance baseline on the same records: each metric's mean over ``draws`` draws and its band
    (the draws' ``band_quantile`` quantile, the other tail for lower-is-better metrics)."""

    n: int
    primary_metric: str | None
    primary: float | None
    metrics: Metrics
    band: float | None
    bands: Metrics
    band_quantile: float
    draws: int

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "primary_metric": self.primary_metric,
            "primary": self.primary,
            "metrics": self.metrics,
            "band": self.band,
            "bands": self.bands,
            "band_quantile": self.band_quantile,
            "draws": self.draws,
        }

    @classmethod
    def read(cls, r: _Reader) -> ChanceSummary:
        r.check_keys(("n", "primary_metric", "primary", "metrics", "band", "bands", "band_quantile", "draws"))
        return cls(
            r.get("n", "int"),
            r.get("primary_metric", "str", none=True),
            r.get("primary", "num", none=True),
            r.metrics("metrics"),
            r.get("band", "num", none=True),
            r.metrics("bands"),
            r.get("band_quantile", "num"),
            r.get("draws", "int"),
        )


_DATASET_KEYS = (
    "dataset",
    "real_name",
    "task",
    "metric",
    "n",
    "unparsed",
    "primary_metric",
    "primary",
    "higher_is_better",
    "headline",
    "metrics",
    "release",
    "chance",
    "beyond_chance",
    "one_place_prompts",
    "notes",
    "without_prediction",
)


@dataclass
class DatasetScore:
    """One dataset's row of a report: its official metrics (ours: unparsed = wrong), the headline, the
    release's convention, chance, and counts."""

    dataset: str
    real_name: str
    task: str
    metric: str
    n: int
    unparsed: int
    primary_metric: str | None
    primary: float | None
    higher_is_better: bool
    headline: dict[str, Headline]
    metrics: Metrics
    release: ReleaseScore
    chance: ChanceSummary
    beyond_chance: bool | None
    one_place_prompts: bool  # the answers point at one place whatever the frame: the mask score is the segmenter's
    notes: list[str]
    without_prediction: int  # records of this dataset that no prediction answers (not scored)

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "real_name": self.real_name,
            "task": self.task,
            "metric": self.metric,
            "n": self.n,
            "unparsed": self.unparsed,
            "primary_metric": self.primary_metric,
            "primary": self.primary,
            "higher_is_better": self.higher_is_better,
            "headline": {k: h.to_json() for k, h in self.headline.items()},
            "metrics": self.metrics,
            "release": self.release.to_json(),
            "chance": self.chance.to_json(),
            "beyond_chance": self.beyond_chance,
            "one_place_prompts": self.one_place_prompts,
            "notes": list(self.notes),
            "without_prediction": self.without_prediction,
        }

    @classmethod
    def read(cls, r: _Reader) -> DatasetScore:
        r.check_keys(_DATASET_KEYS)
        head = r.sub("headline")
        return cls(
            r.get("dataset", "str"),
            r.get("real_name", "str"),
            r.get("task", "str"),
            r.get("metric", "str"),
            r.get("n", "int"),
            r.get("unparsed", "int"),
            r.get("primary_metric", "str", none=True),
            r.get("primary", "num", none=True),
            r.get("higher_is_better", "bool"),
            {k: Headline.read(head.sub(k)) for k in head.obj},
            r.metrics("metrics"),
            ReleaseScore.read(r.sub("release")),
            ChanceSummary.read(r.sub("chance")),
            r.get("beyond_chance", "bool", none=True),
            r.get("one_place_prompts", "bool"),
            r.strings("notes"),
            r.get("without_prediction", "int"),
        )


@dataclass
class ReportSummary:
    """Counts over the whole evaluation."""

    records: int
    predictions: int
    scored: int
    unparsed: int
    without_prediction: int
    unknown_predictions: int

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "predictions": self.predictions,
            "scored": self.scored,
            "unparsed": self.unparsed,
            "without_prediction": self.without_prediction,
            "unknown_predictions": self.unknown_predictions,
        }

    @classmethod
    def read(cls, r: _Reader) -> ReportSummary:
        keys = ("records", "predictions", "scored", "unparsed", "without_prediction", "unknown_predictions")
        r.check_keys(keys)
        return cls(*(r.get(k, "int") for k in keys))


@dataclass
class ReportConfig:
    """What the scores depend on beyond the predictions: the segmenter used (None when no dataset needed
    one) and the chance baseline's settings."""

    segmenter: str | None
    seed: int
    chance_draws: int
    mask_chance_draws: int
    frames_per_batch: int
    meteor: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "segmenter": self.segmenter,
            "seed": self.seed,
            "chance_draws": self.chance_draws,
            "mask_chance_draws": self.mask_chance_draws,
            "frames_per_batch": self.frames_per_batch,
            "meteor": self.meteor,
        }

    @classmethod
    def read(cls, r: _Reader) -> ReportConfig:
        r.check_keys(("segmenter", "seed", "chance_draws", "mask_chance_draws", "frames_per_batch", "meteor"))
        return cls(
            r.get("segmenter", "str", none=True),
            r.get("seed", "int"),
            r.get("chance_draws", "int"),
            r.get("mask_chance_draws", "int"),
            r.get("frames_per_batch", "int"),
            r.get("meteor", "bool"),
        )


@dataclass
class TaskRouting:
    """One task type's I-LoRA routing: how many predictions it averages and each head's mean router weight in
    each layer (``mean[layer][head]``, the layers in :attr:`RoutingSummary.layers`' order)."""

    n: int
    mean: list[list[float]]

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean}

    @classmethod
    def read(cls, r: _Reader, layers: int, heads: int) -> TaskRouting:
        r.check_keys(("n", "mean"))
        mean = r.get("mean", "list")
        for i, weights in enumerate(mean):
            ok = (
                isinstance(weights, list)
                and len(weights) == heads
                and all(isinstance(w, int | float) and not isinstance(w, bool) for w in weights)
            )
            if not ok:
                r.fail(f"mean.{i}", f"expected {heads} numbers (one per head), got {weights!r}")
        if len(mean) != layers:
            r.fail("mean", f"expected {layers} rows (one per layer), got {len(mean)}")
        return cls(r.get("n", "int"), mean)


@dataclass
class RoutingSummary:
    """A report's ``routing``: the router's mean head weights per layer for each task type
    (:func:`crabplus.evaluate.routing.routing_summary` builds it from prediction rows)."""

    num_heads: int
    layers: list[str]
    tasks: dict[str, TaskRouting]

    def to_json(self) -> dict[str, Any]:
        return {
            "num_heads": self.num_heads,
            "layers": self.layers,
            "tasks": {t: v.to_json() for t, v in self.tasks.items()},
        }

    @classmethod
    def read(cls, r: _Reader) -> RoutingSummary:
        r.check_keys(("num_heads", "layers", "tasks"))
        heads, layers = r.get("num_heads", "int"), r.strings("layers")
        tasks = r.sub("tasks")
        return cls(heads, layers, {t: TaskRouting.read(tasks.sub(t), len(layers), heads) for t in tasks.obj})


@dataclass
class Report:
    """``report.json``: one :class:`DatasetScore` per scored dataset (registry order), the summary, the
    config, the routing summary (None without I-LoRA routing), notes, and the files written beside it
    (``files``, present once :func:`crabplus.evaluate.report.write_report` wrote them)."""

    summary: ReportSummary
    config: ReportConfig
    datasets: dict[str, DatasetScore]
    routing: RoutingSummary | None = None
    notes: list[str] = field(default_factory=list)
    files: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        out = {
            "format": REPORT_FORMAT,
            "summary": self.summary.to_json(),
            "config": self.config.to_json(),
            "datasets": {k: d.to_json() for k, d in self.datasets.items()},
            "routing": self.routing.to_json() if self.routing is not None else None,
            "notes": list(self.notes),
        }
        if self.files is not None:
            out["files"] = dict(self.files)
        return out

    @classmethod
    def from_json(cls, obj: Any, *, file: str | None = None) -> Report:
        """The report in ``obj`` (a decoded ``report.json``); :class:`ReportError` naming ``file`` and the field."""
        r = _Reader(obj, "", file)
        if obj.get("format") != REPORT_FORMAT:
            r.fail("format", f"not a crabplus evaluation report (format {REPORT_FORMAT!r}, got {obj.get('format')!r})")
        r.check_keys(("format", "summary", "config", "datasets", "routing", "notes"), ("files",))
        sets = r.sub("datasets")
        datasets = {k: DatasetScore.read(sets.sub(k)) for k in sets.obj}
        files = r.get("files", "dict", none=True)
        routing = RoutingSummary.read(r.sub("routing")) if r.get("routing", "dict", none=True) is not None else None
        return cls(
            ReportSummary.read(r.sub("summary")),
            ReportConfig.read(r.sub("config")),
            datasets,
            routing,
            r.strings("notes"),
            dict(files) if files is not None else None,
        )


# ---------------------------------------------------------------------------------------------
# the transfer table
# ---------------------------------------------------------------------------------------------


@dataclass
class TransferRow:
    """One headline metric of one dataset: single-task vs multi-task (and the baseline multi-task run).

    ``baseline_sign`` None: the table has no baseline (the three baseline keys are absent from the JSON);
    ``""``: a baseline that does not score this row.
    """

    dataset: str
    metric: str
    higher_is_better: bool
    single_run: str
    single: float
    multi: float
    relative_change: float | None
    sign: str
    baseline: float | None = None
    baseline_relative_change: float | None = None
    baseline_sign: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {
            "dataset": self.dataset,
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "single_run": self.single_run,
            "single": self.single,
            "multi": self.multi,
            "relative_change": self.relative_change,
            "sign": self.sign,
        }
        if self.baseline_sign is not None:
            out |= {
                "baseline": self.baseline,
                "baseline_relative_change": self.baseline_relative_change,
                "baseline_sign": self.baseline_sign,
            }
        return out

    @classmethod
    def read(cls, r: _Reader, with_baseline: bool) -> TransferRow:
        base = ("baseline", "baseline_relative_change", "baseline_sign")
        r.check_keys(
            ("dataset", "metric", "higher_is_better", "single_run", "single", "multi", "relative_change", "sign")
            + (base if with_baseline else ())
        )
        row = cls(
            r.get("dataset", "str"),
            r.get("metric", "str"),
            r.get("higher_is_better", "bool"),
            r.get("single_run", "str"),
            r.get("single", "num"),
            r.get("multi", "num"),
            r.get("relative_change", "num", none=True),
            r.get("sign", "str"),
        )
        if with_baseline:
            row.baseline = r.get("baseline", "num", none=True)
            row.baseline_relative_change = r.get("baseline_relative_change", "num", none=True)
            row.baseline_sign = r.get("baseline_sign", "str")
        return row


@dataclass
class TransferTable:
    """``transfer.json``: the rows, how many compared and how many positive (the paper's "positive transfer
    on x% of tasks"), and the rows missing from one side. The ``baseline_*`` counts exist only with a
    baseline run (``baseline_name`` not None); ``files`` once written."""

    multi_name: str
    baseline_name: str | None
    single_names: list[str]
    rows: list[TransferRow]
    compared: int
    positive: int
    positive_share: float | None
    missing: list[str]
    baseline_compared: int | None = None
    baseline_positive: int | None = None
    baseline_positive_share: float | None = None
    files: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        out = {
            "multi_name": self.multi_name,
            "baseline_name": self.baseline_name,
            "single_names": list(self.single_names),
            "rows": [r.to_json() for r in self.rows],
            "compared": self.compared,
            "positive": self.positive,
            "positive_share": self.positive_share,
            "missing": list(self.missing),
        }
        if self.baseline_name is not None:
            out |= {
                "baseline_compared": self.baseline_compared,
                "baseline_positive": self.baseline_positive,
                "baseline_positive_share": self.baseline_positive_share,
            }
        if self.files is not None:
            out["files"] = dict(self.files)
        return out

    @classmethod
    def from_json(cls, obj: Any, *, file: str | None = None) -> TransferTable:
        """The table in ``obj`` (a decoded ``transfer.json``); :class:`ReportError` naming ``file`` and the field."""
        r = _Reader(obj, "", file)
        with_base = obj.get("baseline_name") is not None
        base = ("baseline_compared", "baseline_positive", "baseline_positive_share")
        r.check_keys(
            ("multi_name", "baseline_name", "single_names", "rows", "compared", "positive", "positive_share", "missing")
            + (base if with_base else ()),
            ("files",),
        )
        rows = r.get("rows", "list")
        table = cls(
            r.get("multi_name", "str"),
            r.get("baseline_name", "str", none=True),
            r.strings("single_names"),
            [TransferRow.read(_Reader(row, f"rows.{i}", file), with_base) for i, row in enumerate(rows)],
            r.get("compared", "int"),
            r.get("positive", "int"),
            r.get("positive_share", "num", none=True),
            r.strings("missing"),
        )
        if with_base:
            table.baseline_compared = r.get("baseline_compared", "int")
            table.baseline_positive = r.get("baseline_positive", "int")
            table.baseline_positive_share = r.get("baseline_positive_share", "num", none=True)
        files = r.get("files", "dict", none=True)
        table.files = dict(files) if files is not None else None
        return table
