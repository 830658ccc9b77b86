"""Importers of real data into unified records.

- :func:`import_avuie` — the AV-UIE v2 release (``AVUIE_2/<task>/{train,test}.json``), all 19 task
  flags, with a per-task report of what was read, written and skipped (``crabplus data import-avuie``).
- The benchmarks' own ground truth, readable on its own and mergeable into the import:
  AVE ``Annotations.txt`` (:mod:`.ave`), AVVP evaluation CSVs (:mod:`.avvp`), AVSBench / Ref-AVS
  masks (:mod:`.masks`), Ref-AVS ``metadata.csv`` (:mod:`.refavs`), MUSIC-AVQA JSON
  (:mod:`.music_avqa`), UnAV-100 JSON (:mod:`.unav`).

See ``docs/data.md`` for where each dataset comes from and how to lay it out.
"""

from crabplus.data.importers.ave import AveAnnotation, ave_classes, read_ave_annotations
from crabplus.data.importers.avuie import REPORT_NAME, import_avuie, parse_tasks
from crabplus.data.importers.avvp import AVVP_CLASSES, read_avvp_eval, read_avvp_eval_csv, read_avvp_weak_csv
from crabplus.data.importers.masks import (
    avs_mask_path,
    load_binary_mask,
    mask_box_points,
    refavs_mask_path,
    refavs_sample_masks,
)
from crabplus.data.importers.merge import GroundTruth, GroundTruthFiles
from crabplus.data.importers.music_avqa import AvqaQuestion, read_music_avqa
from crabplus.data.importers.refavs import RefAvsExpression, read_refavs_metadata
from crabplus.data.importers.report import ImportReport, SplitReport
from crabplus.data.importers.unav import UnavVideo, read_unav

__all__ = [
    "AVVP_CLASSES",
    "REPORT_NAME",
    "AveAnnotation",
    "AvqaQuestion",
    "GroundTruth",
    "GroundTruthFiles",
    "ImportReport",
    "RefAvsExpression",
    "SplitReport",
    "UnavVideo",
    "ave_classes",
    "avs_mask_path",
    "import_avuie",
    "load_binary_mask",
    "mask_box_points",
    "parse_tasks",
    "read_ave_annotations",
    "read_avvp_eval",
    "read_avvp_eval_csv",
    "read_avvp_weak_csv",
    "read_music_avqa",
    "read_refavs_metadata",
    "read_unav",
    "refavs_mask_path",
    "refavs_sample_masks",
]
