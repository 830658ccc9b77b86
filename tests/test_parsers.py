"""Parsers: rendered targets round-trip for every dataset; malformed text never raises; release conventions."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crabplus.schema import RELEASE_DATASETS
from crabplus.schema.records import Answer, Event
from crabplus.tasks import parse_answer, parse_prediction, render_answer, render_target
from crabplus.tasks.normalize import answers_match, normalize_answer
from crabplus.tasks.parsers import Prediction, release_box_points, resolve_option

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# labels as datasets spell them: words, spaces, underscores, hyphens, parentheses; no digits/tags/brackets
label_st = st.from_regex(r"[A-Za-z][A-Za-z _()'-]{0,18}[A-Za-z)]", fullmatch=True).filter(
    lambda s: "  " not in s and "(" not in s[:1]
)
time_st = st.integers(0, 40).map(lambda k: k / 2)  # whole and half seconds print exactly


@st.composite
def event_st(draw):
    start = draw(time_st)
    end = draw(st.integers(int(start * 2) + 1, 41).map(lambda k: k / 2))
    return Event(draw(label_st), start, end)


@st.composite
def box_st(draw):
    x1 = draw(st.integers(0, 222))
    y1 = draw(st.integers(0, 222))
    return [x1, y1, draw(st.integers(x1 + 1, 224)), draw(st.integers(y1 + 1, 224))]


points_st = st.lists(st.lists(st.integers(0, 223), min_size=2, max_size=2), min_size=1, max_size=3)
caption_st = st.from_regex(r"[A-Za-z][A-Za-z ,.']{0,60}[A-Za-z.]", fullmatch=True)
reasoning_st = st.one_of(st.none(), st.from_regex(r"[A-Za-z][A-Za-z ,.]{0,80}", fullmatch=True))


@st.composite
def options_st(draw):
    opts = draw(st.lists(label_st, min_size=2, max_size=5))
    seen, unique = set(), []
    for o in opts:
        if normalize_answer(o) and normalize_answer(o) not in seen and len(o) > 1:
            seen.add(normalize_answer(o))
            unique.append(o)
    if len(unique) < 2:
        unique = ["first option", "second option"]
    return unique


@st.composite
def answer_st(draw, dataset: str) -> Answer:
    if dataset in ("ks", "ucf", "meld", "mer24", "cremad", "mafw", "dfew"):
        return Answer(label=draw(label_st))
    if dataset in ("a2v", "v2a"):
        return Answer(choice=draw(st.sampled_from([1, 2])))
    if dataset == "avqa":
        return Answer(text=draw(label_st))
    if dataset == "avqa_thu":
        options = draw(options_st())
        return Answer(choice=draw(st.integers(0, len(options) - 1)), options=options)
    if dataset in ("ave", "unav"):
        return Answer(events=draw(st.lists(event_st(), min_size=1, max_size=4)))
    if dataset == "avvp":
        audio = draw(st.lists(event_st(), max_size=3))
        visual = draw(st.lists(event_st(), min_size=0 if audio else 1, max_size=3))
        return Answer(audio_events=audio, visual_events=visual)
    if dataset == "avcap":
        return Answer(text=draw(caption_st))
    if dataset in ("s4", "ms3"):
        return Answer(label=draw(label_st), box=draw(box_st()), points=draw(points_st))
    if dataset == "ref_avs":
        if draw(st.booleans()):
            return Answer(exists=True, label=draw(label_st), box=draw(box_st()), points=draw(points_st))
        return Answer(exists=False)
    if dataset == "arig":
        return Answer(label=draw(label_st), box=draw(box_st()))
    raise AssertionError(dataset)


@pytest.mark.parametrize("dataset", RELEASE_DATASETS)
@SETTINGS
@given(data=st.data())
def test_round_trip_rendered_targets(dataset, data):
    answer = data.draw(answer_st(dataset))
    reasoning = data.draw(reasoning_st) if dataset != "avcap" else None  # a caption has no separable reasoning
    text = render_target(reasoning, render_answer(dataset, answer))
    parsed = parse_answer(dataset, text, options=answer.options)
    assert parsed == answer, text
    assert parse_prediction(dataset, text, options=answer.options).parsed


fragments = st.sampled_from(
    [
        "<answer>",
        "</answer>",
        "<event>",
        "</event>",
        "<range>",
        "</range>",
        "<audio_event>",
        "</audio_event>",
        "<visual_event>",
        "</visual_event>",
        "<obj>",
        "</obj>",
        "[",
        "]",
        "(",
        ")",
        ",",
        " ",
        "1",
        "224",
        "-3",
        "999",
        "1e9",
        "0.5",
        "true",
        "false",
        "nan",
        "inf",
        "event:",
        "start_time:",
        "end_time:",
        "\n",
        "</s>",
        "é",
        "\x00",
    ]
)
malformed_st = st.one_of(st.text(max_size=200), st.lists(fragments, max_size=60).map("".join))


@pytest.mark.parametrize("dataset", RELEASE_DATASETS)
@settings(max_examples=50, deadline=None)
@given(text=malformed_st)
def test_malformed_text_never_raises_and_stays_well_formed(dataset, text):
    pred = parse_prediction(dataset, text, options=["a cat", "a dog"])
    assert isinstance(pred, Prediction)
    if pred.box is not None:
        x1, y1, x2, y2 = pred.box
        assert 0 <= x1 < x2 <= 224 and 0 <= y1 < y2 <= 224
    for x, y in pred.points or []:
        assert 0 <= x < 224 and 0 <= y < 224
    for ev in (pred.events or []) + (pred.audio_events or []) + (pred.visual_events or []):
        assert 0 <= ev.start < ev.end and ev.label
    if pred.release_valid and dataset not in ("s4", "ms3", "ref_avs"):
        assert pred.parsed


def test_non_text_and_unknown_dataset_are_unparsed_not_errors():
    assert not parse_prediction("ks", None).parsed  # type: ignore[arg-type]
    assert parse_prediction("nope", "<answer>x</answer>").notes == ["unknown dataset 'nope'"]


def test_release_conventions_parse():
    assert parse_answer("ave", "event:Church bell start_time:6 end_time:8") == Answer(
        events=[Event("Church bell", 6.0, 8.0)]
    )
    assert parse_answer("ave", "<event> Church bell </event> <range> 6,8 </range>").events == [
        Event("Church bell", 6.0, 8.0)
    ]
    assert parse_answer("unav", "<event>dog</event><range>1.5 - 3</range>").events == [Event("dog", 1.5, 3.0)]
    avvp = parse_answer("avvp", "<audio>Speech,(0 3),(5 10)</audio><visual_event> Dog, (2, 5) </visual_event>")
    assert avvp.audio_events == [Event("Speech", 0, 3), Event("Speech", 5, 10)]
    assert avvp.visual_events == [Event("Dog", 2, 5)]
    assert parse_answer(
        "arig", "The sounding object is dog. Its coordinates are <obj>( 3 , 4 )( 100,120 )</obj>."
    ) == Answer(label="dog", box=[3, 4, 100, 120])
    assert parse_answer("s4", "The object making the sound in the video is guitar.") is None  # no box: no answer
    assert parse_prediction("s4", "The object making the sound in the video is guitar.").label == "guitar"
    assert parse_answer("ref_avs", "<answer>false</answer>") == Answer(exists=False)
    assert parse_answer("ref_avs", "<answer>yes</answer> cat [1, 2, 30, 40]").box == [1, 2, 30, 40]
    assert parse_answer("meld", "<answer>Joy</answer>.") == Answer(label="Joy")
    assert parse_answer("avqa", "more than ten") == Answer(text="more than ten")  # MUSIC-AVQA GT is the raw word
    assert parse_answer("a2v", "<answer>2</answer>.") == Answer(choice=2)
    assert parse_answer("ks", "truncated at the end <answer>playing dru") == Answer(label="playing dru")


def test_lenient_boxes_are_clipped_and_points_outside_dropped():
    pred = parse_prediction("s4", "<answer>x</answer> [-5, 10.4, 300, 99.6] [10,10][500,3][20.2,30]")
    assert pred.box == [0, 10, 224, 100]
    assert pred.points == [[10, 10], [20, 30]]
    assert pred.parsed and not pred.release_valid  # the release's regex wants integers without spaces
    assert not parse_prediction("s4", "<answer>x</answer> [50,50,50,80]").parsed  # no area, no points


def test_release_regex_validity():
    box, pts = release_box_points("[10,20,100,200] [30,40][50,60][70,80]", need_three_points_without_box=True)
    assert box == [10, 20, 100, 200] and pts == [[30, 40], [50, 60], [70, 80]]
    assert release_box_points("[10,20,100,224]", need_three_points_without_box=True) == (None, [])  # x2 must be < 224
    assert release_box_points("[1,2][3,4]", need_three_points_without_box=True) == (None, [])  # 3 points needed
    assert release_box_points("[1,2][3,4]", need_three_points_without_box=False)[1] == [[1, 2], [3, 4]]
    assert release_box_points("x</s>[10,20,100,200]", need_three_points_without_box=True) == (None, [])
    pred = parse_prediction("ref_avs", "<answer>true</answer> cat")
    assert not pred.parsed and not pred.release_valid
    assert parse_prediction("ref_avs", "<answer>false</answer>").release_valid


def test_unparsed_cases():
    long_untagged = "The person in the video seems to be doing something with a ball in the park."
    assert not parse_prediction("ks", long_untagged).parsed
    assert not parse_prediction("ks", "<answer></answer>").parsed
    assert not parse_prediction("ave", "A dog barks for a while.").parsed
    assert not parse_prediction("a2v", "<answer>neither</answer>").parsed
    assert not parse_prediction("avqa_thu", "<answer>a horse</answer>", options=["a dog", "a cat"]).parsed
    assert not parse_prediction("avcap", "   ").parsed


def test_resolve_option_by_text_letter_and_containment():
    options = ["a dog", "the cat", "car"]
    assert resolve_option("Cat.", options) == 1
    assert resolve_option("(C)", options) == 2
    assert resolve_option("I think it is the dog barking", options) == 0
    assert resolve_option("dog or cat", options) is None  # ambiguous
    assert resolve_option("Z", options) is None


@pytest.mark.parametrize(
    "a,b",
    [
        ("The Acoustic_Guitar.", "acoustic guitar"),
        ("2", "two"),
        ("More than 10", "more than ten"),
        ("Frying_(food)", "frying food"),
        ("person's", "Persons"),
        ("  A   Cello ", "cello"),
        ("Baby_cry_infant_cry", "baby cry infant cry"),
    ],
)
def test_normalization_equates(a, b):
    assert normalize_answer(a) == normalize_answer(b)
    assert answers_match(a, b)


@pytest.mark.parametrize("a,b", [("yes", "no"), ("left", "right"), ("one", "eleven"), ("a cat", "cats")])
def test_normalization_keeps_different_answers_apart(a, b):
    assert not answers_match(a, b)
    assert not answers_match(None, b)


def test_a_run_of_punctuation_is_not_a_label_and_a_label_outside_the_classes_is_counted():
    """The tiny model's ``a,,,,,,…`` was ``parsed: true`` and scored as the label "a,,,,,,"."""
    from crabplus.schema.records import Answer, Record
    from crabplus.tasks.families import family_of
    from crabplus.tasks.families.base import ScoreConfig

    junk = parse_prediction("ks", "a" + "," * 40)
    assert not junk.parsed and junk.label is None and "not a class name" in junk.notes[0]
    assert parse_prediction("ks", "<answer>Race car, auto racing</answer>").label == "Race car, auto racing"
    family = family_of("ks")
    records = [
        Record(
            id=str(i),
            dataset="ks",
            task="action",
            split="test",
            media={"video": "v.mp4"},
            instruction="i",
            answer=Answer(label=lab),
            target="t",
        )
        for i, lab in enumerate(["dog", "cat"])
    ]
    score = family.score(records, [parse_prediction("ks", "dog"), parse_prediction("ks", "zebra")], ScoreConfig())
    assert any("1 of 2 answers name a label that no evaluated record has" in n for n in score.notes)
