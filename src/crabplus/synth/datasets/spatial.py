"""Sounding-object grounding in one frame: s4 (one source), ms3 (sources take turns), arig (box only).

Each record is a PNG frame at second k of a short clip plus the WAV of the whole clip; s4/ms3 give the
audio window index k (the model hears only that second). The answer's box and points come from the
rendered id map, and the ground-truth mask PNG is that object's pixels (0/255). Silent distractors
often share the source's colour or shape, so the sound is needed to tell which object it is.
"""

from __future__ import annotations

import numpy as np

from crabplus.schema.geometry import mask_box_points
from crabplus.schema.records import Answer, Media, Record
from crabplus.synth import text
from crabplus.synth.clip import Clip, Reasoning
from crabplus.synth.datasets.common import loudness, new_scene, offscreen, size, write_still
from crabplus.synth.datasets.vocab import vocabulary
from crabplus.synth.draw import frame_time
from crabplus.synth.scene import Scene, SceneObject, place_apart
from crabplus.synth.sound import render_audio
from crabplus.synth.world import split_class


def confusers(clip: Clip, cls: str, k: int, avoid: set[str] = frozenset()) -> list[str]:
    """``k`` other classes of the dataset, the first sharing the colour or the shape of ``cls`` when
    the vocabulary has one (a look-alike that only the sound tells apart)."""
    vocab = [c for c in vocabulary(clip.dataset) if c != cls and c not in avoid]
    colour, shape = split_class(cls)
    alike = [c for c in vocab if c.startswith(colour + " ") or c.endswith(" " + shape)]
    out = [clip.choice(alike)] if alike and clip.rng.random() < 0.7 else []
    rest = [c for c in vocab if c not in out]
    return out + clip.sample(rest, k - len(out))


def still_scene(clip: Clip, classes: list[str], sounding: list[list[tuple[int, int]]], duration: int) -> Scene:
    """Still, non-overlapping objects (so each mask is the whole shape) in random draw order."""
    sizes = [size(clip.rng) for _ in classes]
    centres = place_apart(clip.rng, sizes)
    objects = [
        SceneObject(cls=c, x=x, y=y, size=s, visible=[(0, duration)], sounding=snd, loudness=loudness(clip.rng))
        for c, (x, y), s, snd in zip(classes, centres, sizes, sounding)
    ]
    return new_scene(clip, objects, duration)


def _maybe_offscreen(clip: Clip, scene: Scene, d: int) -> None:
    """Sometimes a quiet off-screen sound whose pitch matches no on-screen sounding object."""
    if clip.rng.random() < 0.2:
        colours = {o.colour for o in scene.objects}
        pool = [c for c in vocabulary(clip.dataset) if split_class(c)[0] not in colours]
        if pool:
            scene.objects.append(offscreen(clip, clip.choice(pool), [(0, d)], level="quiet"))


def frame_and_sound(clip: Clip, scene: Scene, k: int, n_windows: int) -> tuple[Media, np.ndarray, dict]:
    """Write the WAV of the whole clip and the PNG frame shown for audio window ``k``; returns the
    media, the frame's id map (H, W) and the meta (with the frame's index and time)."""
    t = frame_time(k, n_windows, scene.duration)
    wav = clip.wav(".wav", render_audio(scene, clip.cfg.sample_rate, clip.rng))
    png, ids = write_still(clip, scene, t, f"-f{k}.png")
    meta = clip.base_meta(scene.duration, scene.to_json())
    meta.update({"frame_idx": k, "frame_time": t})
    return Media(image=png, audio=wav), ids, meta


def grounded(
    clip: Clip, scene: Scene, target: SceneObject, k: int, n_windows: int, with_mask: bool
) -> tuple[Media, Answer, dict]:
    """:func:`frame_and_sound` plus the answer: the target's label, box and points (and mask PNG)."""
    media, ids, meta = frame_and_sound(clip, scene, k, n_windows)
    mask = ids == scene.objects.index(target) + 1  # (H, W) bool
    box, points = mask_box_points(mask, clip.rng)
    answer = Answer(label=target.cls, box=box, points=points)
    if with_mask:
        answer.mask = clip.png(f"-f{k}-mask.png", mask.astype(np.uint8) * 255)
    return media, answer, meta


def _chain(scene: Scene, target: SceneObject, when: str) -> Reasoning:
    place = text.at(target.x)
    short = f"I hear {text.sound_of(target.cls)}{when}, so the sounding object is the {target.cls} {place}."
    heard = [text.sound_of(o.cls) + ("" if o.onscreen else " from off screen") for o in scene.objects if o.sounding]
    full = (
        text.sentence("I see " + text.join([text.seen(o) for o in scene.onscreen]))
        + " "
        + text.sentence("I hear " + text.join(heard))
        + f" The {text.sound_of(target.cls)[2:]}{when} belongs to the {target.cls}, {place}."
    )
    return Reasoning(short, full)


def _one_source_scene(clip: Clip) -> tuple[Scene, SceneObject, int]:
    """S4 and ARIG: one object sounds the whole clip among 1-2 silent look-alikes (maybe an off-screen
    sound too); returns the scene, the sounding object and the frame index k (0-4)."""
    d, rng = clip.cfg.avs_seconds, clip.rng
    cls = clip.balanced(vocabulary(clip.dataset))
    classes = [cls] + confusers(clip, cls, int(rng.integers(1, 3)))
    order = list(rng.permutation(len(classes)))
    classes = [classes[i] for i in order]
    scene = still_scene(clip, classes, [[(0, d)] if c == cls else [] for c in classes], d)
    _maybe_offscreen(clip, scene, d)
    target = next(o for o in scene.objects if o.cls == cls)
    return scene, target, int(rng.integers(5))


def build_s4(clip: Clip) -> Record:
    scene, target, k = _one_source_scene(clip)
    media, answer, meta = grounded(clip, scene, target, k, 5, with_mask=True)
    media.audio_window_index = k
    return clip.record(media, answer, _chain(scene, target, ""), meta)


def build_ms3(clip: Clip) -> Record:
    """2-3 sources take turns (each sounds over one run of seconds), plus maybe a silent object; the
    frame's second decides which source is the answer."""
    d, rng = clip.cfg.avs_seconds, clip.rng
    n_src = int(rng.integers(2, 4)) if d >= 3 else 1
    first = clip.balanced(vocabulary(clip.dataset))
    sources = [first]
    for c in clip.sample([c for c in vocabulary(clip.dataset) if c != first], 7):
        if len(sources) < n_src and all(split_class(c)[0] != split_class(s)[0] for s in sources):
            sources.append(c)
    cuts = sorted(int(v) for v in rng.choice(np.arange(1, d), size=len(sources) - 1, replace=False))
    runs = list(zip([0] + cuts, cuts + [d]))
    classes = list(sources)
    if rng.random() < 0.5:
        classes += confusers(clip, first, 1, avoid=set(sources))
    sounding = [[runs[i]] if i < len(sources) else [] for i in range(len(classes))]
    order = list(rng.permutation(len(classes)))
    scene = still_scene(clip, [classes[i] for i in order], [sounding[i] for i in order], d)
    k = int(rng.integers(5))
    k_second = int(frame_time(k, 5, d))
    target = next(o for o in scene.objects if o.sounding_at(k_second + 0.5))
    media, answer, meta = grounded(clip, scene, target, k, 5, with_mask=True)
    media.audio_window_index = k
    return clip.record(media, answer, _chain(scene, target, f" in second {k_second}"), meta)


def build_arig(clip: Clip) -> Record:
    scene, target, k = _one_source_scene(clip)
    media, answer, meta = grounded(clip, scene, target, k, 5, with_mask=False)
    answer.points = None  # ARIG answers a box only
    return clip.record(media, answer, _chain(scene, target, ""), meta)
