"""Event localisation in time: ave (one audio-visual event), unav (several, possibly overlapping), avvp
(separate audio and visual events).

An audio-visual event is a span where an object is both seen and heard. Distractors make either
modality alone misleading: silent visible objects (seen, not heard) and off-screen sounds (heard, not
seen); the event object is also often visible for longer than it sounds. Sounding objects in one clip
have different colours, so their pitches differ.
"""

from __future__ import annotations

from crabplus.schema.records import Answer, Event, Media, Record
from crabplus.synth import text
from crabplus.synth.clip import Clip, Reasoning
from crabplus.synth.datasets.common import mover, new_scene, offscreen, write_video
from crabplus.synth.datasets.vocab import vocabulary
from crabplus.synth.scene import SceneObject, merge, random_range
from crabplus.synth.world import MOTIONS, split_class


def _widen(clip: Clip, r: tuple[int, int], d: int, most: int = 3) -> tuple[int, int]:
    """``r`` extended by 0..``most`` seconds on each side, inside the clip."""
    return max(0, r[0] - int(clip.rng.integers(0, most + 1))), min(d, r[1] + int(clip.rng.integers(0, most + 1)))


def _pick_classes(clip: Clip, k: int, avoid_colours: set[str] = frozenset()) -> list[str]:
    """``k`` classes of the dataset's vocabulary with pairwise different colours (so pitches differ)."""
    out: list[str] = []
    for cls in clip.sample(vocabulary(clip.dataset), len(vocabulary(clip.dataset))):
        colour = split_class(cls)[0]
        if colour not in avoid_colours and all(split_class(c)[0] != colour for c in out):
            out.append(cls)
        if len(out) == k:
            return out
    raise ValueError(f"{clip.dataset}: cannot pick {k} classes of different colours")


def _distractors(clip: Clip, objects: list[SceneObject], d: int, p_silent: float, p_off: float) -> None:
    """Add (in place) a silent visible object and/or an off-screen sound of new classes."""
    rng = clip.rng
    used = {o.cls for o in objects}
    if rng.random() < p_silent:
        cls = clip.choice([c for c in vocabulary(clip.dataset) if c not in used])
        used.add(cls)
        objects.insert(
            int(rng.integers(len(objects) + 1)),
            mover(clip, cls, clip.choice(list(MOTIONS)), [random_range(rng, d, min_len=3)], []),
        )
    if rng.random() < p_off:
        colours = {o.colour for o in objects if o.sounding}
        pool = [c for c in vocabulary(clip.dataset) if c not in used and split_class(c)[0] not in colours]
        if pool:
            objects.append(offscreen(clip, clip.choice(pool), [random_range(rng, d, min_len=2, max_len=6)]))


def _seen_when(o: SceneObject, d: int) -> str:
    return f"{text.seen(o)} {text.spans(o.visible, d)}"


def _scene_text(objects: list[SceneObject], d: int) -> str:
    seen = [_seen_when(o, d) for o in objects if o.onscreen]
    heard = [text.heard(o, d) for o in objects if o.sounding]
    out = text.sentence("I see " + text.join(seen)) if seen else "I see nothing but the background."
    out += " " + (text.sentence("I hear " + text.join(heard)) if heard else "I hear only background noise.")
    return out


def build_ave(clip: Clip) -> Record:
    d, rng = clip.cfg.clip_seconds, clip.rng
    cls = clip.balanced(vocabulary(clip.dataset))
    event = random_range(rng, d, min_len=2)
    objects = [mover(clip, cls, clip.choice(list(MOTIONS)), [_widen(clip, event, d)], [event])]
    _distractors(clip, objects, d, p_silent=0.6, p_off=0.5)
    scene = new_scene(clip, objects, d)
    video, _ = write_video(clip, scene)
    when = text.span(*event, d)
    short = f"I see and hear {text.the(cls)} {when}."
    full = _scene_text(scene.objects, d) + f" The {cls} is both seen and heard {when}."
    answer = Answer(events=[Event(cls, event[0], event[1])])
    return clip.record(Media(video=video), answer, Reasoning(short, full), clip.base_meta(d, scene.to_json()))


def build_unav(clip: Clip) -> Record:
    d, rng = clip.cfg.clip_seconds, clip.rng
    classes = _pick_classes(clip, int(rng.integers(2, 4)))
    objects, events = [], []
    for cls in classes:
        r = random_range(rng, d, min_len=2, max_len=7)
        objects.append(mover(clip, cls, clip.choice(list(MOTIONS)), [_widen(clip, r, d, 2)], [r]))
        events.append(Event(cls, r[0], r[1]))
    _distractors(clip, objects, d, p_silent=0.5, p_off=0.4)
    scene = new_scene(clip, objects, d)
    video, _ = write_video(clip, scene)
    events.sort(key=lambda e: (e.start, e.end, e.label))
    short = (
        "I see and hear "
        + text.join([f"{text.the(e.label)} {text.span(int(e.start), int(e.end), d)}" for e in events])
        + "."
    )
    full = (
        _scene_text(scene.objects, d)
        + " Seen and heard together: "
        + text.join([f"{text.the(e.label)} {text.span(int(e.start), int(e.end), d)}" for e in events])
        + "."
    )
    return clip.record(
        Media(video=video), Answer(events=events), Reasoning(short, full), clip.base_meta(d, scene.to_json())
    )


def modality_events(objects: list[SceneObject]) -> tuple[list[Event], list[Event]]:
    """(audio events, visual events): each class's merged sounding / visible runs, sorted."""
    audio = [Event(o.cls, a, b) for o in objects for a, b in merge(o.sounding)]
    visual = [Event(o.cls, a, b) for o in objects if o.onscreen for a, b in merge(o.visible)]
    key = lambda e: (e.start, e.end, e.label)  # noqa: E731
    return sorted(audio, key=key), sorted(visual, key=key)


def build_avvp(clip: Clip) -> Record:
    d, rng = clip.cfg.clip_seconds, clip.rng
    n_av = int(rng.integers(1, 3))
    classes = _pick_classes(clip, n_av + 2)
    objects = []
    for cls in classes[:n_av]:  # seen and heard, over independent spans
        objects.append(
            mover(
                clip,
                cls,
                clip.choice(list(MOTIONS)),
                [random_range(rng, d, min_len=3)],
                [random_range(rng, d, min_len=2)],
            )
        )
    if rng.random() < 0.6 or n_av == 1:  # heard, never seen
        objects.append(offscreen(clip, classes[n_av], [random_range(rng, d, min_len=2)]))
    if rng.random() < 0.6:  # seen, never heard
        objects.insert(
            int(rng.integers(len(objects) + 1)),
            mover(clip, classes[n_av + 1], clip.choice(list(MOTIONS)), [random_range(rng, d, min_len=2)], []),
        )
    scene = new_scene(clip, objects, d)
    video, _ = write_video(clip, scene)
    audio_events, visual_events = modality_events(scene.objects)

    def say(events: list[Event]) -> str:
        return text.join([f"{text.the(e.label)} {text.span(int(e.start), int(e.end), d)}" for e in events])

    short = f"I hear {say(audio_events)}; I see {say(visual_events)}."
    full = _scene_text(scene.objects, d) + f" Audio events: {say(audio_events)}. Visual events: {say(visual_events)}."
    return clip.record(
        Media(video=video),
        Answer(audio_events=audio_events, visual_events=visual_events),
        Reasoning(short, full),
        clip.base_meta(d, scene.to_json()),
    )
