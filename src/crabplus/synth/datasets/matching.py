"""Audio <-> video matching (a2v, v2a), assembled as the release does: two candidates, one of which is
the true partner (the audio of a clip and that clip's own video), the other a different clip.

The wrong candidate's sounding class is often a near miss — the same colour (same pitch, other
timbre) or the same shape (same timbre, other pitch) — so both the pitch and the timbre matter.

Both reasoning chains name what each candidate holds before the choice, so the choice is a lookup in
text already written: a chain that says "video 2 shows ..." first asks the model to find the answer
before it has looked (AVSynth 1.2 did; the tiny demo model then answered "1" for nearly every clip).
"""

from __future__ import annotations

from crabplus.schema.records import Answer, Media, Record
from crabplus.synth import text
from crabplus.synth.clip import Clip, Reasoning
from crabplus.synth.datasets.common import mover, new_scene, write_video
from crabplus.synth.datasets.vocab import vocabulary
from crabplus.synth.scene import Scene, random_range
from crabplus.synth.sound import render_audio
from crabplus.synth.world import MOTIONS, split_class


def _near_miss(clip: Clip, cls: str, vocab: tuple[str, ...]) -> str:
    colour, shape = split_class(cls)
    r = clip.rng.random()
    if r < 0.4:
        pool = [c for c in vocab if c != cls and c.startswith(colour + " ")]
    elif r < 0.7:
        pool = [c for c in vocab if c != cls and c.endswith(" " + shape)]
    else:
        pool = [c for c in vocab if c != cls]
    return clip.choice(pool)


def _scene(clip: Clip, cls: str, avoid: set[str]) -> Scene:
    """One sounding object of class ``cls``, maybe with a silent distractor not in ``avoid``."""
    d, rng = clip.cfg.clip_seconds, clip.rng
    objects = [mover(clip, cls, clip.choice(list(MOTIONS)), [(0, d)], [random_range(rng, d, min_len=max(2, d // 2))])]
    if rng.random() < 0.4:
        other = clip.choice([c for c in vocabulary(clip.dataset) if c not in avoid | {cls}])
        objects.append(mover(clip, other, clip.choice(list(MOTIONS)), [(0, d)], []))
    return new_scene(clip, objects, d)


def _shows(scene: Scene) -> str:
    return text.join([text.seen(o, with_place=False) for o in scene.onscreen])


def _classes(scene: Scene) -> str:
    return text.join([text.a(o.cls) for o in scene.onscreen])


def build_a2v(clip: Clip) -> Record:
    vocab = vocabulary(clip.dataset)
    heard_cls = clip.choice(vocab)
    wrong_cls = _near_miss(clip, heard_cls, vocab)
    right = _scene(clip, heard_cls, {wrong_cls})
    wrong = _scene(clip, wrong_cls, {heard_cls})
    choice = int(clip.rng.integers(1, 3))
    scenes = (right, wrong) if choice == 1 else (wrong, right)
    v1, audio1 = write_video(clip, scenes[0], "-v1.mp4")
    v2, audio2 = write_video(clip, scenes[1], "-v2.mp4")
    audio = clip.wav("-a.wav", audio1 if choice == 1 else audio2)  # the true partner's own sound track
    d = clip.cfg.clip_seconds
    short = (
        f"I hear {text.sound_of(heard_cls)}, the sound of {text.a(heard_cls)}. Video 1 shows "
        f"{_classes(scenes[0])}; video 2 shows {_classes(scenes[1])}."
    )
    full = (
        text.sentence("I hear " + text.heard(right.objects[0], d, with_source=False))
        + f" Video 1 shows {_shows(scenes[0])}. Video 2 shows {_shows(scenes[1])}."
        + f" Only video {choice} has {text.a(heard_cls)}, which makes that sound, so video {choice} matches."
    )
    meta = clip.base_meta(d, {"video1": scenes[0].to_json(), "video2": scenes[1].to_json()})
    meta.update(
        {"audio_event": heard_cls, "video1_event": scenes[0].objects[0].cls, "video2_event": scenes[1].objects[0].cls}
    )
    return clip.record(Media(video=v1, video2=v2, audio=audio), Answer(choice=choice), Reasoning(short, full), meta)


def build_v2a(clip: Clip) -> Record:
    vocab = vocabulary(clip.dataset)
    seen_cls = clip.choice(vocab)
    wrong_cls = _near_miss(clip, seen_cls, vocab)
    right = _scene(clip, seen_cls, {wrong_cls})
    wrong = _scene(clip, wrong_cls, {seen_cls} | {o.cls for o in right.onscreen})
    video, right_audio = write_video(clip, right)
    wrong_audio = render_audio(wrong, clip.cfg.sample_rate, clip.rng)
    choice = int(clip.rng.integers(1, 3))
    first, second = (right_audio, wrong_audio) if choice == 1 else (wrong_audio, right_audio)
    a1, a2 = clip.wav("-a1.wav", first), clip.wav("-a2.wav", second)
    d = clip.cfg.clip_seconds
    audio_classes = (seen_cls, wrong_cls) if choice == 1 else (wrong_cls, seen_cls)
    sounds = [text.sound_of(c) for c in audio_classes]
    short = (
        f"I see {_classes(right)}. "
        + "; ".join(
            f"{'Audio' if i == 0 else 'audio'} {i + 1} is {sound}, the sound of {text.a(c)}"
            for i, (c, sound) in enumerate(zip(audio_classes, sounds))
        )
        + "."
    )
    full = (
        f"I see {_shows(right)}. Audio 1 is {sounds[0]}; audio 2 is {sounds[1]}."
        f" The {seen_cls} {text.verb_of(seen_cls)} like audio {choice}, "
        f"so audio {choice} matches."
    )
    meta = clip.base_meta(d, {"video": right.to_json(), "other": wrong.to_json()})
    meta.update({"video_event": seen_cls, "audio1_event": audio_classes[0], "audio2_event": audio_classes[1]})
    return clip.record(Media(video=video, audio=a1, audio2=a2), Answer(choice=choice), Reasoning(short, full), meta)
