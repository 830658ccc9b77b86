"""crabplus.metrics: the official benchmark metrics as pure functions on numpy arrays and lists.

Each module implements one benchmark family as described in docs/evaluation.md (the
module docstrings restate the definition, edge cases included). Nothing here knows about records,
parsing or files: :mod:`crabplus.evaluate` turns predictions into these inputs.
"""

from crabplus.metrics.ave import ave_accuracy, events_to_segments
from crabplus.metrics.avs import (
    avs_frame_iou,
    avs_fscore,
    avs_fscore_curves,
    avs_fscore_from_curves,
    avs_miou,
    batch_fscore,
    mean_of_batch_means,
    null_s,
    refavs_null_s,
    refavs_null_s_per_sample,
    refavs_scores,
)
from crabplus.metrics.avss import avss_scores
from crabplus.metrics.avvp import (
    aggregate_avvp,
    avvp_scores,
    avvp_video_scores,
    event_counts,
    events_to_matrix,
    extract_events,
    match_events,
)
from crabplus.metrics.box import box_grounding_scores, box_iou
from crabplus.metrics.caption import caption_scores
from crabplus.metrics.classification import (
    accuracy,
    matching_accuracy,
    music_avqa_accuracy,
    option_accuracy,
    parse_avqa_type,
    uar,
    uar_war,
    war,
)
from crabplus.metrics.ssl import binarize_heatmap, ciou, flickr_gt_map, success_auc, vggss_gt_map
from crabplus.metrics.tieap import tie_averaged_ap
from crabplus.metrics.tiou import UNAV_THRESHOLDS, interpolated_ap, segment_tiou, tiou_map

__all__ = [
    "UNAV_THRESHOLDS",
    "accuracy",
    "aggregate_avvp",
    "ave_accuracy",
    "avs_frame_iou",
    "avs_fscore",
    "avs_fscore_curves",
    "avs_fscore_from_curves",
    "avs_miou",
    "avss_scores",
    "avvp_scores",
    "avvp_video_scores",
    "batch_fscore",
    "binarize_heatmap",
    "box_grounding_scores",
    "box_iou",
    "caption_scores",
    "ciou",
    "event_counts",
    "events_to_matrix",
    "events_to_segments",
    "extract_events",
    "flickr_gt_map",
    "interpolated_ap",
    "match_events",
    "matching_accuracy",
    "mean_of_batch_means",
    "music_avqa_accuracy",
    "null_s",
    "option_accuracy",
    "parse_avqa_type",
    "refavs_null_s",
    "refavs_null_s_per_sample",
    "refavs_scores",
    "segment_tiou",
    "success_auc",
    "tie_averaged_ap",
    "tiou_map",
    "uar",
    "uar_war",
    "vggss_gt_map",
    "war",
]
