"""Audio-visual captioning (avcap): captions written from the scene graph in three styles.

Each record holds three reference captions (``answer.references``, the first also in
``answer.text``) that say the same facts with different wording and order, as several human
annotators would: which objects are seen and how they move, which of them sound and how, what is
heard from off screen, and when.

No reasoning chain is written before a caption, at any level: the release's caption target is the bare
caption (no ``<answer>`` tag), so a chain could not be told apart from the caption and would be scored
as part of it — AVSynth up to 1.3 wrote one, and CIDEr-D's length penalty then cut even a perfect
caption to about a seventh of its score.
"""

from __future__ import annotations

from crabplus.schema.records import Answer, Media, Record
from crabplus.synth import text
from crabplus.synth.clip import Clip
from crabplus.synth.datasets.common import mover, new_scene, offscreen, write_video
from crabplus.synth.datasets.vocab import vocabulary
from crabplus.synth.scene import SceneObject, random_range
from crabplus.synth.world import MOTIONS, split_class

_VERB = {
    "still": "sits still",
    "bounce": "bounces",
    "slide": "slides back and forth",
    "spin": "spins",
    "grow": "grows and shrinks",
    "orbit": "circles around",
    "shake": "shakes",
    "zigzag": "zigzags",
    "fall": "keeps falling",
}


def _when(o: SceneObject, d: int) -> str:
    s = text.spans(o.sounding, d)
    return "" if s == "throughout" else " " + s


def _clause(o: SceneObject, style: int, d: int) -> str:
    sound = text.sound_of(o.cls)[2:]  # "deep hum"
    if not o.onscreen:
        return [
            f"a {sound} is heard from off screen{_when(o, d)}",
            f"an unseen source makes a {sound}{_when(o, d)}",
            f"something out of view gives a {sound}{_when(o, d)}",
        ][style]
    # a place only for objects that stay in their third of the frame
    place = (
        ""
        if o.motion in ("slide", "orbit", "zigzag")
        else {"left": "on the left", "right": "on the right", "middle": "in the middle"}[text.where(o.x)]
    )
    at = f" {place}" if place else ""
    lead = f"{place}, " if place else ""
    gerund = MOTIONS[o.motion]
    moving = "" if o.motion == "still" else gerund + " "
    doing = "stays still" if o.motion == "still" else "is " + gerund
    if o.sounding:
        return [
            f"a {o.cls}{at} {_VERB[o.motion]} and {text.verb_of(o.cls)}{_when(o, d)}",
            f"a {sound} comes from a {moving}{o.cls}{_when(o, d)}",
            f"{lead}a {o.cls} {doing} while making a {sound}{_when(o, d)}",
        ][style]
    return [
        f"a {o.cls}{at} {_VERB[o.motion]} silently",
        f"a {moving}{o.cls} makes no sound",
        f"{lead}a silent {o.cls} {doing}",
    ][style]


def captions(objects: list[SceneObject], d: int) -> list[str]:
    """Three reference captions: style 0 in scene order, style 1 sounds first, style 2 places first."""
    sounding_first = sorted(objects, key=lambda o: (not o.sounding, not o.onscreen))
    onscreen_first = sorted(objects, key=lambda o: not o.onscreen)
    orders = [onscreen_first, sounding_first, onscreen_first[::-1] if len(objects) > 2 else onscreen_first]
    out = []
    for style, order in enumerate(orders):
        clauses = [_clause(o, style, d) for o in order]
        out.append(text.sentence("; ".join(clauses) if style == 2 else text.join(clauses)))
    return out


def build_avcap(clip: Clip) -> Record:
    d, rng = clip.cfg.clip_seconds, clip.rng
    n = int(rng.integers(1, 4))
    classes = clip.sample(vocabulary(clip.dataset), n + 1)
    objects, colours = [], set()
    for i, cls in enumerate(classes[:n]):
        loud = i == 0 or rng.random() < 0.5
        sounding = [(0, d) if rng.random() < 0.5 else random_range(rng, d, min_len=3)] if loud else []
        if sounding:
            colours.add(split_class(cls)[0])
        objects.append(mover(clip, cls, clip.choice(list(MOTIONS)), [(0, d)], sounding))
    if rng.random() < 0.35 and split_class(classes[n])[0] not in colours:
        objects.append(offscreen(clip, classes[n], [random_range(rng, d, min_len=2)]))
    scene = new_scene(clip, objects, d)
    video, _ = write_video(clip, scene)
    refs = captions(scene.objects, d)
    return clip.record(
        Media(video=video), Answer(text=refs[0], references=refs), None, clip.base_meta(d, scene.to_json())
    )
