"""The perception pretraining corpus: AVSynth clips of its own, plain questions, plain answers.

What the base stage trains on (and nothing else), standing in for the audio-visual pretraining of a real
backbone: scenes of shapes that move and sound, stills with a moment of sound, talking faces, and the two
matching layouts, each asked about in plain language (``crabplus.synth.pretrain_text``) — what is there,
its colour and shape, how it moves, where it is (in words and on the 224-pixel scale), what it sounds
like, when each sound starts and stops, how a face looks and a voice sounds, which of two clips makes a
sound. Never an instruction of the 19 mirror datasets, never a tagged answer.

Its clips come from their own seed range: ``SeedSequence([seed, CORPUS_TAG, crc32(layout), index, 0])``,
five entries where every mirror-dataset clip has four (``crabplus.synth.clip.clip_seed``), so no corpus
clip can be a clip of the 19 datasets whatever the seed. Each clip gives a few records (questions) that
share its media. Layout under ``OUT``::

    OUT/corpus.json                  generator version, seed, clips and records per layout
    OUT/<layout>/train.jsonl         records (datasets ``pt_*``, task ``perception``)
    OUT/<layout>/media/train-<index>[-suffix].{mp4,wav,png}
"""

from __future__ import annotations

import multiprocessing
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from crabplus.schema.geometry import mask_box_points
from crabplus.schema.perception import PERCEPTION_TASK
from crabplus.schema.records import Answer, Media, Record, record_from_json, write_records
from crabplus.synth import pretrain_dense as dense
from crabplus.synth import pretrain_format as fmt
from crabplus.synth import pretrain_text as pt
from crabplus.synth.clip import Clip
from crabplus.synth.config import SynthConfig
from crabplus.synth.datasets.common import loudness, mover, offscreen, size, write_video
from crabplus.synth.draw import frame_time, render_frame
from crabplus.synth.face import render_face_video, render_voice, sample_emotion_scene
from crabplus.synth.scene import Scene, SceneObject, place_apart, random_range
from crabplus.synth.sound import render_audio
from crabplus.synth.studio import STUDIO_TINT
from crabplus.synth.text import capital
from crabplus.synth.world import ALL_CLASSES, EMOTIONS, MOTIONS, split_class
from crabplus.utils.io import atomic_write_json

CORPUS_VERSION = "2.0.0"
#: the corpus's own entry in every clip seed (ASCII "PERC")
CORPUS_TAG = 0x50455243
#: clips per layout by default (each clip gives 5-7 records: plain descriptions, perception-dense questions,
#: a format exercise and, for every other clip, a copying exercise)
DEFAULT_CLIPS = {"pt_scene": 800, "pt_still": 600, "pt_still10": 200, "pt_face": 600, "pt_pair": 300, "pt_sounds": 300}


def corpus_seed(seed: int, layout: str, index: int) -> np.random.SeedSequence:
    """The seed of one corpus clip: five entries (the mirror datasets' clips have four)."""
    return np.random.SeedSequence([seed, CORPUS_TAG, zlib.crc32(layout.encode()), index, 0])


#: perception-dense questions drawn per clip (of those its content allows): a few hundred questions per attribute
#: were seen about once in a base stage and the LLM learned to answer none that needs the picture
DENSE_PER_CLIP = 8
#: words per copying exercise (one exercise every other clip; each block of words twice: plain, then in tags)
COPY_WORDS_PER_EXERCISE = 12


class CorpusClip(Clip):
    """A :class:`Clip` of the corpus: its own seed range, media under ``<layout>/media``."""

    def __init__(self, cfg: SynthConfig, out: str | Path, layout: str, index: int, order: bool = False):
        super().__init__(cfg, out, layout, "train", index)
        self.rng = np.random.default_rng(corpus_seed(cfg.seed, layout, index))
        #: ask what each half of the two matching layouts holds (``generate_corpus``'s ``order``)
        self.order = order

    def qa(
        self,
        media: Media,
        pairs: list[tuple[str, str]],
        meta: dict,
        asks: list[dense.Ask] = (),
        formats: list[tuple[str, str]] = (),
    ) -> list[Record]:
        """One record per question, all on this clip's media: the plain ``pairs``, up to :data:`DENSE_PER_CLIP`
        of the perception-dense ``asks`` (each with its ``probe`` in ``meta``), the ``formats`` exercises,
        and every other clip a copying exercise."""
        chosen = self.sample(list(asks), min(DENSE_PER_CLIP, len(asks))) if asks else []
        items = [(q, a, None) for q, a in pairs] + [(k.question, k.answer, k.probe()) for k in chosen]
        items += [(q, a, None) for q, a in formats]
        if self.index % 2 == 0:  # each layout walks the word list from its own sixth on, 12 words per two clips
            exercise = self.index // 2
            start = (
                list(BUILDERS).index(self.dataset) * len(fmt.COPY_WORDS) // len(BUILDERS)
                + (exercise // 2) * COPY_WORDS_PER_EXERCISE
            )
            items.append((*fmt.copy_words(self.rng, exercise, start, COPY_WORDS_PER_EXERCISE), None))
        return [
            Record(
                id=f"{self.id}-q{i}",
                dataset=self.dataset,
                task=PERCEPTION_TASK,
                split="train",
                media=media,
                instruction=q,
                answer=Answer(text=a),
                target=a,
                meta=meta if probe is None else {**meta, "probe": probe},
            )
            for i, (q, a, probe) in enumerate(items)
        ]


def any_background(rng: np.random.Generator) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """A dark gradient in a random studio tint (the corpus sees every tint, not one per dataset)."""
    hue = rng.uniform(0, 2 * np.pi)
    tint = np.rint(STUDIO_TINT * np.cos(hue + np.array([0.0, -2 * np.pi / 3, 2 * np.pi / 3]))).astype(int)
    base = rng.integers(12, 45)
    top = tuple(int(v) for v in np.clip(base + tint, 0, 255))
    return top, tuple(int(v) for v in np.clip(base + tint + rng.integers(10, 30), 0, 255))


def _scene(clip: CorpusClip, objects: list[SceneObject], d: int) -> Scene:
    return Scene(
        objects=objects, duration=d, background=any_background(clip.rng), noise=float(clip.rng.uniform(0.004, 0.015))
    )


def reasoned(seen: list[SceneObject], loud: list[SceneObject], d: int) -> str:
    """A reasoning-like answer: what is seen, what is heard, so which shape sounds."""
    sight = "I see " + (", ".join(f"a {o.cls} {MOTIONS[o.motion]}" for o in seen) if seen else "no shape") + "."
    if not loud:
        return f"{sight} I hear only a faint hiss, so nothing in view is making a noise."
    hear = "I hear " + ", ".join(f"a {pt.sound(o.cls)} {pt.when(o.sounding, d)}" for o in loud) + "."
    makers = [o for o in seen if o.sounding]
    so = (
        f" So the sounding {'object is' if len(makers) == 1 else 'objects are'} "
        + ", ".join(f"the {o.cls}" for o in makers)
        + "."
        if makers
        else " So the sound comes from off screen."
    )
    return sight + " " + hear + so


def _pick(clip: CorpusClip, pairs: list[tuple[str, str]], k: int) -> list[tuple[str, str]]:
    """The first pair plus ``k`` others drawn at random."""
    return [pairs[0]] + clip.sample(pairs[1:], min(k, len(pairs) - 1))


# ---- scenes: a 10 s video --------------------------------------------------------------------------------


def build_scene(clip: CorpusClip) -> list[Record]:
    d, rng = clip.cfg.clip_seconds, clip.rng
    objects = []
    for cls in clip.sample(ALL_CLASSES, int(rng.integers(1, 4))):
        motion = clip.choice([m for m in MOTIONS if not (m == "spin" and cls.endswith("circle"))])
        sounding = [random_range(rng, d, min_len=2)] if rng.random() < 0.7 else []
        objects.append(mover(clip, cls, motion, [(0, d)], sounding))
    if rng.random() < 0.25:
        shown = {o.cls for o in objects}
        objects.append(
            offscreen(
                clip,
                clip.choice([c for c in ALL_CLASSES if c not in shown]),
                [random_range(rng, d, min_len=2)],
                level="quiet",
            )
        )
    scene = _scene(clip, objects, d)
    video, _ = write_video(clip, scene)
    seen = scene.onscreen
    loud = [o for o in scene.objects if o.sounding]

    def who(o: SceneObject) -> str:
        return f"the {o.cls}" if o.onscreen else f"something off screen that sounds like a {o.cls}"

    looks = [f"a {o.cls}, {pt.region(o.x, o.y)}, {pt.motion_words(o)}" for o in seen]
    sounds = [f"a {pt.sound(o.cls)} from {who(o)}, {pt.when(o.sounding, d)}" for o in loud]
    describe = (
        capital(pt.count(len(seen), "shape"))
        + " in view. "
        + pt.listing(looks)
        + " "
        + ("Sounds: " + "; ".join(sounds) + "." if sounds else "No sound, only a faint hiss.")
    )
    makers = [o for o in seen if o.sounding]
    heard_off = [o for o in loud if not o.onscreen]
    source = (
        pt.listing([f"the {o.cls} makes a {pt.sound(o.cls)}" for o in makers])
        if makers
        else "None of them makes a noise."
    )
    if heard_off:
        source += " " + pt.listing([f"a {pt.sound(o.cls)} comes from off screen" for o in heard_off])
    timing = (
        pt.listing([f"{pt.sound(o.cls)}: {pt.when(o.sounding, d)}" for o in loud])
        if loud
        else "There is no sound, only a faint hiss."
    )
    target = clip.choice(seen)
    about = f"It is {pt.region(target.x, target.y)}, {pt.motion_words(target)}, and " + (
        f"it makes a {pt.sound(target.cls)}, {pt.when(target.sounding, d)}."
        if target.sounding
        else "it makes no sound."
    )
    pairs = [
        (
            clip.choice(
                [
                    "What happens in this clip, in sight and in sound?",
                    "Tell me what you can see and hear here.",
                    "Give a full account of this clip: the shapes, how they move, and the sounds.",
                ]
            ),
            describe,
        ),
        ("Which shape in view is making a noise, and what noise?", source),
        ("List each sound with the seconds it starts and stops.", timing),
        ("How does each shape move?", pt.listing([f"the {o.cls} is {pt.motion_words(o)}" for o in seen])),
        (
            "How many shapes are in view, and how many different sounds?",
            f"{capital(pt.count(len(seen), 'shape'))} and {pt.count(len(loud), 'sound')}.",
        ),
        (f"Tell me about the {target.cls}: where it is, how it moves and what it sounds like.", about),
        ("What do you see and hear, and so which shape is the one sounding?", reasoned(seen, loud, d)),
        (
            clip.choice(["What is taking place here? One sentence, please.", "Sum up what you see and hear occur."]),
            pt.sum_up(seen, loud),
        ),
    ]
    formats = []
    if loud:
        o = clip.choice(loud)
        formats.append(fmt.range_formats(rng, pt.sound(o.cls), o.cls, o.sounding, heard=True))
    else:
        formats.append(fmt.range_formats(rng, "sight", target.cls, target.visible, heard=False))
    return clip.qa(
        Media(video=video),
        _pick(clip, pairs, 1),
        clip.base_meta(d, scene.to_json()),
        dense.scene_asks(scene.objects, d),
        formats,
    )


# ---- stills: one frame and a moment of sound -----------------------------------------------------------


def build_still(clip: CorpusClip) -> list[Record]:
    """A still frame at the centre of one audio window (fifths of 5 s, or tenths of 10 s), the sound track
    of the whole clip, and questions about where things are and what sounds in that window."""
    n_windows = 5 if clip.dataset == "pt_still" else 10
    d, rng = (clip.cfg.avs_seconds if n_windows == 5 else clip.cfg.clip_seconds), clip.rng
    classes = clip.sample(ALL_CLASSES, int(rng.integers(1, 4)))
    sizes = [size(rng) for _ in classes]
    centres = place_apart(rng, sizes)
    n_runs = min(len(classes), d)
    cuts = sorted(int(v) for v in rng.choice(np.arange(1, d), size=n_runs - 1, replace=False))
    runs = list(zip([0] + cuts, cuts + [d]))  # sources take turns; a run may be silent
    objects = []
    for i, (cls, (x, y), s) in enumerate(zip(classes, centres, sizes)):
        sounding = [runs[i]] if i < len(runs) and rng.random() < 0.8 else []
        objects.append(
            SceneObject(cls=cls, x=x, y=y, size=s, visible=[(0, d)], sounding=sounding, loudness=loudness(rng))
        )
    if rng.random() < 0.2:
        objects.append(
            offscreen(clip, clip.choice([c for c in ALL_CLASSES if c not in classes]), [(0, d)], level="quiet")
        )
    scene = _scene(clip, objects, d)
    k = int(rng.integers(n_windows))
    t = frame_time(k, n_windows, d)
    wav = clip.wav(".wav", render_audio(scene, clip.cfg.sample_rate, rng))
    frame, ids = render_frame(scene, t, clip.cfg.image_size)
    png = clip.png(f"-f{k}.png", frame)
    where, boxes = {}, {}
    for i, o in enumerate(scene.objects):
        if o.onscreen:
            box, points = mask_box_points(ids == i + 1, rng)
            where[o.cls] = f"{pt.region(o.x, o.y)}, {pt.extent(box, points[0])}"
            boxes[o.cls] = (box, points)
    now = [o for o in scene.objects if o.sounding_at(int(t) + 0.5)]
    on_now = [o for o in now if o.onscreen]
    if on_now:
        maker = pt.listing([f"the {o.cls}, {where[o.cls]}" for o in on_now])
    elif now:
        maker = f"Something out of view: a {pt.sound(now[0].cls)}."
    else:
        maker = "Nothing: all is quiet apart from a faint hiss."
    heard_now = (
        f"I hear {pt.listing([f'a {pt.sound(o.cls)}' for o in now]).rstrip('.').lower()}"
        if now
        else "I hear only a faint hiss"
    )
    seen_now = "I see " + ", ".join(f"a {o.cls} {pt.region(o.x, o.y)}" for o in scene.onscreen)
    because = (
        f"{heard_now}, so the sounding object is the {on_now[0].cls}."
        if len(on_now) == 1
        else f"{heard_now}, so no shape in view is sounding now."
        if not on_now
        else f"{heard_now}, so several shapes are sounding."
    )
    present = rng.random() < 0.6
    ask = clip.choice(classes) if present else clip.choice([c for c in ALL_CLASSES if c not in classes])
    found = f"Yes, {where[ask]}." if present else f"No, there is no {ask} here."
    pairs = [
        (
            "Where is each shape in this picture? Give x and y from 0 to 224.",
            pt.listing([f"{cls}: {place}" for cls, place in where.items()]),
        ),
        ("What makes the sound you hear at this moment, and where is it?", maker),
        (f"Is there a {ask} in this picture? If there is, where?", found),
        (
            "What do you hear at this moment?",
            pt.listing([f"a {pt.sound(o.cls)}" for o in now]) if now else "Only a faint hiss.",
        ),
        ("Think it through: what do you see and hear, and so what is sounding?", f"{seen_now}. {capital(because)}"),
    ]
    meta = clip.base_meta(d, scene.to_json())
    meta.update({"frame_idx": k, "frame_time": t})
    media = Media(image=png, audio=wav, audio_window_index=k)
    named = clip.choice(classes)
    box, points = boxes[named]
    formats = [
        fmt.box_formats(rng, named, box, points),
        fmt.name_in_tags(rng, "the sounding shape", on_now[0].cls)
        if len(on_now) == 1
        else fmt.yes_no_in_tags(rng, ask, present),
    ]
    return clip.qa(media, _pick(clip, pairs, 1), meta, dense.still_asks(scene.objects, now), formats)


# ---- faces -----------------------------------------------------------------------------------------------


def build_face(clip: CorpusClip) -> list[Record]:
    d, rng = clip.cfg.emotion_seconds, clip.rng
    canon = clip.balanced(list(EMOTIONS))
    scene = sample_emotion_scene(rng, canon, d, None)
    top, _ = any_background(rng)
    scene = replace(scene, background=(top, tuple(min(255, v + 30) for v in top)))
    audio = render_voice(scene, clip.cfg.sample_rate, rng)
    video = clip.mp4(".mp4", render_face_video(scene, clip.cfg.fps, clip.cfg.image_size), audio)
    face, voice, mood = pt.FACE_VOICE_MOOD[canon]
    speaker = "a low-pitched speaker" if scene.base_f0 < 160 else "a high-pitched speaker"
    pairs = [
        (
            "Describe this person's face and voice.",
            f"The face shows {face}. The voice, of {speaker}, is {voice}. They seem {mood}.",
        ),
        (
            "What mood does this person seem to be in?",
            f"{mood.capitalize()}: the face shows {face}, and the voice is {voice}.",
        ),
        ("How does the voice sound?", f"It is {voice}, {len(scene.syllables)} syllables from {speaker}."),
    ]
    asks = dense.face_asks(face, voice, mood, high=scene.base_f0 >= 160)
    formats = [fmt.name_in_tags(rng, "the mood of this person in one word", mood)]
    return clip.qa(Media(video=video), _pick(clip, pairs, 1), clip.base_meta(d, scene.to_json()), asks, formats)


# ---- the two matching layouts ----------------------------------------------------------------------------


def _near(clip: CorpusClip, cls: str) -> str:
    """Another class, often sharing the colour (pitch) or the shape (timbre)."""
    colour, shape = split_class(cls)
    r = clip.rng.random()
    pool = [
        c
        for c in ALL_CLASSES
        if c != cls and (c.startswith(colour + " ") if r < 0.35 else c.endswith(" " + shape) if r < 0.7 else True)
    ]
    return clip.choice(pool)


def _one(clip: CorpusClip, cls: str, d: int) -> Scene:
    obj = mover(clip, cls, clip.choice(list(MOTIONS)), [(0, d)], [random_range(clip.rng, d, min_len=max(2, d // 2))])
    return _scene(clip, [obj], d)


ORDINAL = ("first", "second")


def build_pair(clip: CorpusClip) -> list[Record]:
    """A sound and two videos: which video makes the sound."""
    d = clip.cfg.clip_seconds
    heard = clip.choice(ALL_CLASSES)
    other = _near(clip, heard)
    right = int(clip.rng.integers(2))
    classes = [heard, other] if right == 0 else [other, heard]
    scenes = [_one(clip, c, d) for c in classes]
    v1, a1 = write_video(clip, scenes[0], "-v1.mp4")
    v2, a2 = write_video(clip, scenes[1], "-v2.mp4")
    audio = clip.wav("-a.wav", (a1, a2)[right])
    answer = (
        f"The first clip has a {classes[0]}; the second has a {classes[1]}. The sound is a "
        f"{pt.sound(heard)}, made by the {heard} in the {ORDINAL[right]} clip."
    )
    pairs = [
        (
            "You hear one sound and see two clips, one after the other. What is in each clip, and which clip "
            "makes the sound?",
            answer,
        ),
        ("What sound do you hear, and which shape would make it?", f"A {pt.sound(heard)}, the sound of a {heard}."),
    ]
    meta = clip.base_meta(d, {"video1": scenes[0].to_json(), "video2": scenes[1].to_json()})
    formats = [fmt.name_in_tags(clip.rng, "the shape in the clip that makes the sound", heard)]
    asks = dense.pair_asks(heard, right) + (dense.pair_order_asks(tuple(classes)) if clip.order else [])
    return clip.qa(Media(video=v1, video2=v2, audio=audio), _pick(clip, pairs, 1), meta, asks, formats)


def build_sounds(clip: CorpusClip) -> list[Record]:
    """A video and two sound tracks: which track belongs to the video."""
    d = clip.cfg.clip_seconds
    seen = clip.choice(ALL_CLASSES)
    other = _near(clip, seen)
    scene = _one(clip, seen, d)
    video, own = write_video(clip, scene)
    wrong = render_audio(_one(clip, other, d), clip.cfg.sample_rate, clip.rng)
    right = int(clip.rng.integers(2))
    tracks = (own, wrong) if right == 0 else (wrong, own)
    classes = (seen, other) if right == 0 else (other, seen)
    a1, a2 = clip.wav("-a1.wav", tracks[0]), clip.wav("-a2.wav", tracks[1])
    answer = (
        f"In view: a {seen}. The first track is a {pt.sound(classes[0])}, the second a "
        f"{pt.sound(classes[1])}. The {ORDINAL[right]} track belongs to the clip."
    )
    pairs = [
        (
            "One clip and two sound tracks: what is in view, what is each track, and which track belongs to the clip?",
            answer,
        ),
        ("What shape is in view, and what would it sound like?", f"A {seen}; it would make a {pt.sound(seen)}."),
    ]
    formats = [fmt.name_in_tags(clip.rng, "the number of the track that belongs to the clip (1 or 2)", str(right + 1))]
    return clip.qa(
        Media(video=video, audio=a1, audio2=a2),
        _pick(clip, pairs, 1),
        clip.base_meta(d, scene.to_json()),
        dense.sounds_asks(seen, right) + (dense.sounds_order_asks(classes) if clip.order else []),
        formats,
    )


BUILDERS = {
    "pt_scene": build_scene,
    "pt_still": build_still,
    "pt_still10": build_still,
    "pt_face": build_face,
    "pt_pair": build_pair,
    "pt_sounds": build_sounds,
}


def render_corpus_clip(job: tuple[SynthConfig, str, str, int, bool]) -> list[dict]:
    cfg, out, layout, index, order = job
    return [r.to_json() for r in BUILDERS[layout](CorpusClip(cfg, out, layout, index, order))]


def generate_corpus(
    out_dir: str | Path,
    cfg: SynthConfig,
    clips: dict[str, int] | None = None,
    workers: int = 1,
    order: bool = False,
) -> dict:
    """Write the corpus into ``out_dir`` (same ``cfg.seed``, ``clips`` and ``order``: same bytes, whatever
    ``workers``); returns what ``corpus.json`` holds. Uses ``cfg``'s rendering settings (image size, fps, clip
    lengths). ``order``: the two matching layouts also ask what the first and the second of their joined clips
    or tracks holds (``pretrain_dense.pair_order_asks``; off, the corpus is the one the shipped base's first
    stages were made from)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clips = dict(DEFAULT_CLIPS if clips is None else clips)
    jobs = [(cfg, str(out), layout, i, order) for layout, n in clips.items() for i in range(n)]
    if workers <= 1:
        results = [render_corpus_clip(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(render_corpus_clip, jobs, chunksize=8))
    counts: dict[str, dict[str, int]] = {}
    for layout in clips:
        records = [record_from_json(r) for job, recs in zip(jobs, results) if job[2] == layout for r in recs]
        write_records(out / layout / "train.jsonl", records)
        counts[layout] = {"clips": clips[layout], "records": len(records)}
    summary = {
        "generator": "avsynth-perception",
        "version": CORPUS_VERSION,
        "seed": cfg.seed,
        "counts": counts,
        "image_size": cfg.image_size,
        "fps": cfg.fps,
        **({"order": True} if order else {}),
    }
    atomic_write_json(out / "corpus.json", summary)
    return summary
