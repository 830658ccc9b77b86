"""The benchmarks' own ground-truth files, read from hand-written fixtures in each real format."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.importdata import BENCH, write_mask
from PIL import Image

from crabplus.data.importers import (
    AVVP_CLASSES,
    ave_classes,
    avs_mask_path,
    load_binary_mask,
    mask_box_points,
    read_ave_annotations,
    read_avvp_eval,
    read_avvp_eval_csv,
    read_avvp_weak_csv,
    read_music_avqa,
    read_refavs_metadata,
    read_unav,
    refavs_mask_path,
    refavs_sample_masks,
)
from crabplus.data.importers.avvp import event_matrix
from crabplus.data.importers.masks import MaskError
from crabplus.data.importers.music_avqa import fill_template
from crabplus.data.importers.refavs import category_of
from crabplus.data.importers.unav import dedupe_events
from crabplus.schema.records import Event, RecordError


def test_ave_annotations_with_header_and_split_file():
    rows = read_ave_annotations(BENCH / "ave" / "Annotations.txt")  # the dataset zip's copy: with a header
    assert [(r.category, r.video_id, r.quality, r.start, r.end) for r in rows][:2] == [
        ("Church bell", "MH3m4AwEcRY", "good", 6, 8),
        ("Bark", "-5cWW0Kl3OA", "good", 0, 10),
    ]
    assert len(rows) == 5
    # classes in order of first appearance, background last
    assert ave_classes(rows) == ["Church bell", "Bark", "Violin, fiddle", "Frying (food)", "background"]
    assert rows[0].segment_labels() == ["background"] * 6 + ["Church bell"] * 2 + ["background"] * 2
    split = read_ave_annotations(BENCH / "ave" / "testSet.txt")  # no header, CRLF line ends
    assert [r.video_id for r in split] == ["-5cWW0Kl3OA", "-0B6QvT8Ouw", "-1nS9cGqV9M"]
    assert split[1].event() == Event("Violin, fiddle", 2.0, 8.0)


def test_ave_bad_rows_name_the_line(tmp_path):
    bad = tmp_path / "Annotations.txt"
    bad.write_text("Bark&abc&good&0&10\nBark&abc&good&7&3\n")
    with pytest.raises(RecordError, match=r"Annotations.txt:2.*start < end"):
        read_ave_annotations(bad)
    bad.write_text("Bark&abc&good&0\n")
    with pytest.raises(RecordError, match=r":1: expected 5 '&'-separated fields"):
        read_ave_annotations(bad)


def test_avvp_eval_csvs():
    audio = read_avvp_eval_csv(BENCH / "avvp" / "AVVP_eval_audio.csv")
    assert [(e.label, e.start, e.end) for e in audio["-1EtVINNhRo_30_40"]] == [
        ("Dog", 0, 4),
        ("Speech", 2, 8),
        ("Dog", 6, 10),
    ]  # sorted by onset
    videos = read_avvp_eval(BENCH / "avvp" / "AVVP_eval_audio.csv", BENCH / "avvp" / "AVVP_eval_visual.csv")
    assert sorted(videos) == ["-1EtVINNhRo_30_40", "-2XbFOOkc3g_20_30", "KSRjje7GH44_60_70"]
    assert videos["-1EtVINNhRo_30_40"].visual == []  # no visual rows: no visual events
    assert videos["-2XbFOOkc3g_20_30"].visual == [Event("Car", 3.0, 7.0)]
    m = event_matrix(videos["KSRjje7GH44_60_70"].audio)  # [25 classes x 10 segments], offset exclusive
    assert len(m) == 25 and m[AVVP_CLASSES.index("Blender")] == [0] * 8 + [1, 1]
    assert m[AVVP_CLASSES.index("Speech")] == [1, 1, 1] + [0] * 7
    assert read_avvp_weak_csv(BENCH / "avvp" / "AVVP_test_pd.csv")["KSRjje7GH44_60_70"] == ["Blender", "Speech"]


def test_avvp_needs_the_tab_header(tmp_path):
    bad = tmp_path / "AVVP_eval_audio.csv"
    bad.write_text("filename,onset,offset,event_labels\nx,0,1,Dog\n")
    with pytest.raises(RecordError, match="tab-separated header"):
        read_avvp_eval_csv(bad)
    bad.write_text("filename\tonset\toffset\tevent_labels\nx\t4\t2\tDog\n")
    with pytest.raises(RecordError, match=r":2.*onset < offset"):
        read_avvp_eval_csv(bad)


def test_music_avqa_json_quirks():
    qs = read_music_avqa(BENCH / "music_avqa" / "avqa-test.json")
    assert [q.answer for q in qs] == ["yes", "indoor", "two", "no"]  # from the misspelled "anser"
    assert qs[0].type == ("Audio-Visual", "Existential") and qs[0].type_name == "Audio-Visual-Existential"
    assert qs[0].question == "Is the violin in the video always playing?"
    assert qs[3].question == "Is the guitar on the left more rhythmic than the piano on the right?"
    assert qs[2].question_id == "57" and qs[2].video_id == "00000305"
    with pytest.raises(RecordError, match="2 placeholders"):
        fill_template("Is the <Object> on the <LR>?", ["violin"])


def test_unav_json_dedupes_and_selects_subset():
    test = read_unav(BENCH / "unav" / "unav100_annotations.json", subset="test")
    assert sorted(test) == ["0Z9yWc3jqEs", "1mQx5Rb8Tn0"]
    bell = test["0Z9yWc3jqEs"]
    assert bell.duplicates_removed == 1 and bell.duration == 32.5
    assert [(e.label, e.start, e.end) for e in bell.events] == [
        ("church bell ringing", 2.1, 8.0),
        ("people cheering", 10.0, 30.2),
    ]
    assert len(read_unav(BENCH / "unav" / "unav100_annotations.json")) == 5
    # same label, ends within 1e-3 s: one event; 2e-3 apart or another label: kept
    evs = [Event("a", 1.0, 2.0), Event("a", 1.0005, 2.0009), Event("a", 1.002, 2.0), Event("b", 1.0, 2.0)]
    assert dedupe_events(evs) == [evs[0], evs[2], evs[3]]


def test_refavs_metadata():
    rows, todo = read_refavs_metadata(BENCH / "refavs" / "metadata.csv")
    assert todo == 1 and len(rows) == 5
    assert rows[4].expression == "The piano, played loudly." and rows[4].split == "val"  # quoted comma
    assert [r.exists for r in rows[1:4]] == [True, True, False]
    assert category_of(rows[1].uid, rows[1].vid) == "violin"
    assert category_of("abc_acoustic_guitar_3", "abc") == "acoustic guitar"
    assert category_of("other_cat_1", "abc") is None
    assert refavs_sample_masks("v", 2)[:2] == ["gt_mask/v/fid_2/00000.png", "gt_mask/v/fid_2/00001.png"]


def test_mask_path_rules():
    assert avs_mask_path("AVUIE_2/s4/AVS/v1s/c/frames/3.jpg") == "AVUIE_2/s4/AVS/v1s/c/labels_rgb/3.png"
    assert (
        refavs_mask_path("AVUIE_2/ref_avs/REFAVS/media/c/frames/7.jpg", 4)
        == "AVUIE_2/ref_avs/REFAVS/gt_mask/c/fid_4/00007.png"
    )
    with pytest.raises(MaskError, match="cannot derive"):
        avs_mask_path("AVS/v1s/c/3.png")


@pytest.mark.parametrize("mode", ["1", "P", "RGB", "L"])
def test_masks_binarise_in_every_mode(tmp_path, mode):
    path = tmp_path / f"m_{mode}.png"
    # [H, W] = 112 x 448, a 60x50 box; a palette mask whose foreground index is drawn black
    write_mask(path, mode, (112, 448), (40, 10, 99, 59), black_palette=True)
    assert Image.open(path).mode == mode
    mask = load_binary_mask(path)  # nearest-resized to 224 x 224
    assert mask.shape == (224, 224) and mask.dtype == bool
    assert mask_box_points(mask)[0] == [20, 20, 50, 120]  # x halved, y doubled; exclusive ends
    full = load_binary_mask(path, size=None)
    assert full.shape == (112, 448) and int(full.sum()) == 60 * 50


def test_mask_box_points_lie_inside_and_spread():
    mask = np.zeros((224, 224), bool)
    mask[50:120, 30:200] = True  # a wide rectangle
    mask[120:180, 150:200] = True  # and a leg below its right end
    box, points = mask_box_points(mask)
    assert box == [30, 50, 200, 180]
    assert len(points) == 3 and all(mask[y, x] for x, y in points)
    assert len({tuple(p) for p in points}) == 3
    # the first point is the deepest one: at least as far from the background as any other pixel
    assert min(abs(points[0][1] - 50), abs(points[0][1] - 119)) >= 30
    tiny = np.zeros((224, 224), bool)
    tiny[5, 7] = True
    assert mask_box_points(tiny) == ([7, 5, 8, 6], [[7, 5]] * 3)
    assert mask_box_points(np.zeros((224, 224), bool)) is None


def test_unreadable_mask_is_an_error_naming_the_file(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(MaskError, match="bad.png"):
        load_binary_mask(bad)
