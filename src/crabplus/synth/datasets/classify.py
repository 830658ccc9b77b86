"""Clip-label datasets: actions (ks, ucf) and emotions (meld, cremad, mafw, dfew, mer24).

ks needs both modalities: the actor is the sounding object and a silent distractor may perform
another action of the label set, so the sound says which object to watch. ucf is visual: the label is
the motion of the one moving object and the sound track carries no label information. Emotions pair
a face and a voice; three emotion pairs share a face and differ only in the voice.
"""

from __future__ import annotations

from crabplus.schema.records import Answer, Media, Record
from crabplus.synth import text
from crabplus.synth.clip import Clip, Reasoning
from crabplus.synth.datasets.common import mover, new_scene, offscreen, write_video
from crabplus.synth.datasets.vocab import EMOTION_LABELS
from crabplus.synth.face import render_face_video, render_voice, sample_emotion_scene
from crabplus.synth.scene import random_range
from crabplus.synth.world import (
    ALL_CLASSES,
    COLOUR_NAMES,
    EMOTIONS,
    KS_ACTIONS,
    MOTIONS,
    SHAPE_NAMES,
    UCF_MOTIONS,
    class_name,
    ks_label,
)


def build_ks(clip: Clip) -> Record:
    d, rng = clip.cfg.clip_seconds, clip.rng
    motion, shape = clip.balanced(KS_ACTIONS)
    actor = mover(
        clip,
        class_name(clip.choice(COLOUR_NAMES), shape),
        motion,
        [(0, d)],
        [random_range(rng, d, min_len=max(2, (6 * d) // 10))],
    )
    objects = [actor]
    if rng.random() < 0.7:  # a silent distractor doing something else (possibly another ks action)
        pairs = [p for p in KS_ACTIONS if p != (motion, shape)] + [("still", s) for s in SHAPE_NAMES]
        m2, s2 = clip.choice(pairs)
        cls2 = clip.choice([c for c in ALL_CLASSES if c.endswith(" " + s2) and c != actor.cls])
        objects.insert(int(rng.integers(2)), mover(clip, cls2, m2, [(0, d)], []))
    if rng.random() < 0.3:  # an off-screen sound whose timbre matches no visible shape
        shown = {o.shape for o in objects}
        cls3 = clip.choice([c for c in ALL_CLASSES if c.split()[1] not in shown])
        objects.append(offscreen(clip, cls3, [random_range(rng, d, min_len=2)], level="quiet"))
    scene = new_scene(clip, objects, d)
    video, _ = write_video(clip, scene)
    label = ks_label(motion, shape)
    gerund = MOTIONS[motion]
    short = f"I hear {text.sound_of(actor.cls)} from {text.the(actor.cls)}, which is {gerund}."
    full = (
        text.sentence("I see " + text.join([text.seen(o) for o in scene.onscreen]))
        + " "
        + text.sentence("I hear " + text.join([text.heard(o, d) for o in scene.objects if o.sounding]))
        + f" The sounding {shape} is {gerund}, so the action is {label}."
    )
    return clip.record(
        Media(video=video), Answer(label=label), Reasoning(short, full), clip.base_meta(d, scene.to_json())
    )


def build_ucf(clip: Clip) -> Record:
    d, rng = clip.cfg.clip_seconds, clip.rng
    motion = clip.balanced(UCF_MOTIONS)
    shapes = [s for s in SHAPE_NAMES if not (motion == "spin" and s == "circle")]  # a spinning circle looks still
    cls = class_name(clip.choice(COLOUR_NAMES), clip.choice(shapes))
    sounding = [random_range(rng, d, min_len=2)] if rng.random() < 0.7 else []
    main = mover(clip, cls, motion, [(0, d)], sounding)
    objects = [
        mover(clip, c, "still", [(0, d)], [])
        for c in clip.sample([c for c in ALL_CLASSES if c != cls], int(rng.integers(1, 3)))
    ]
    objects.insert(int(rng.integers(len(objects) + 1)), main)
    if rng.random() < 0.3:
        objects.append(offscreen(clip, clip.choice(ALL_CLASSES), [random_range(rng, d, min_len=2)]))
    scene = new_scene(clip, objects, d)
    video, _ = write_video(clip, scene)
    label = MOTIONS[motion]
    short = f"I see {text.a(cls)} {label}."
    full = (
        text.sentence("I see " + text.join([text.seen(o) for o in scene.onscreen]))
        + f" Only {text.the(cls)} moves, and it is {label}."
        + (
            " " + text.sentence("I hear " + text.join([text.heard(o, d) for o in scene.objects if o.sounding]))
            if any(o.sounding for o in scene.objects)
            else " I hear only background noise."
        )
        + f" So the action is {label}."
    )
    return clip.record(
        Media(video=video), Answer(label=label), Reasoning(short, full), clip.base_meta(d, scene.to_json())
    )


def _twin(canon: str, labels: dict[str, str]) -> str | None:
    """The other emotion in this dataset drawn with the same face, if any (only the voice tells)."""
    face = EMOTIONS[canon][0]
    return next((e for e in labels if e != canon and EMOTIONS[e][0] == face), None)


def build_emotion(clip: Clip) -> Record:
    labels = EMOTION_LABELS[clip.dataset]
    canon = clip.balanced(list(labels))
    label = labels[canon]
    d = clip.cfg.emotion_seconds
    scene = sample_emotion_scene(clip.rng, canon, d, clip.dataset)
    audio = render_voice(scene, clip.cfg.sample_rate, clip.rng)
    video = clip.mp4(".mp4", render_face_video(scene, clip.cfg.fps, clip.cfg.image_size), audio)
    face, voice = EMOTIONS[canon]
    short = f"I see {face.words} and hear {voice.words}, so the emotion is {label}."
    twin = _twin(canon, labels)
    full = f"I see a face with {face.words}. I hear {voice.words}, {len(scene.syllables)} syllables in {d} seconds."
    if twin is not None:
        full += f" The face alone fits {label} or {labels[twin]}; the voice decides."
    full += f" So the emotion is {label}."
    return clip.record(
        Media(video=video), Answer(label=label), Reasoning(short, full), clip.base_meta(d, scene.to_json())
    )
