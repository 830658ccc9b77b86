"""The exact ground truth of a perception-corpus clip, as targets for the encoder stage's heads.

AVSynth knows everything about a clip (its scene graph is in each record's ``meta["scene"]``), so the tiny
towers can be supervised directly, as a real Omni model's towers were pretrained on their own (a vision
model, Whisper) before its LLM ever read them. Every target is read from the scene graph alone:

- vision, per merged token of a still (a 2x2 patch block: one quarter of a 56-px frame): the colour and the
  shape of the object whose centre lies in that quarter, or none — which token holds which object — and the
  quarter itself: the LLM's attention adds position only to queries and keys (rotary), so a token must carry
  where it is in its content for an answer to say where a thing is;
- vision, per clip: the colours, shapes and motions in view (multi-hot), the drawn face and the mood;
- audio, per clip: the colours (pitch) and shapes (timbre) sounding (multi-hot), the voice's mood and the
  speaker's pitch;
- audio, per second of a scene: which colours and shapes sound in that second (who sounds when).

Two optional targets (:data:`OPTIONAL_TARGETS`, asked for by name: ``encoders.extra_targets``) reach past the
quarter token: a still's token also names the ninth of the frame its object's centre is in (the "where" answers
and a segmentation's box need more than the quarter, and the LLM can read only what a token holds), and each
token of a scene's temporal group names the motion of the object there (a group's two frames are the only place
where the tower sees an object move: its attention never crosses groups).

Which track belongs to which clip is learned across the towers by a contrastive objective
(:mod:`crabplus.train.encoders`), which needs no label. :data:`TARGETS` describes each target for the trainer,
which knows nothing of the world.
"""

from __future__ import annotations

import numpy as np

from crabplus.synth.pretrain_text import FACE_VOICE_MOOD, ninth
from crabplus.synth.world import COLOUR_NAMES, EMOTIONS, MOTIONS, SHAPE_NAMES, split_class

MOODS: tuple[str, ...] = tuple(EMOTIONS)
#: the distinct drawn faces (three pairs of moods share one)
FACES: tuple[str, ...] = tuple(dict.fromkeys(face for face, _, _ in FACE_VOICE_MOOD.values()))
N_SOUND = len(COLOUR_NAMES) + len(SHAPE_NAMES)
#: the ninths of the frame in raster order, as the corpus names them
NINTHS: tuple[str, ...] = tuple(ninth((c + 0.5) / 3, (r + 0.5) / 3) for r in range(3) for c in range(3))
MOTION_NAMES: tuple[str, ...] = tuple(MOTIONS)

#: name -> (tower, level, loss, classes). level: ``token`` (one target per merged vision token), ``clip``
#: (the tower's tokens averaged), ``second`` (the audio tokens of each second averaged). loss: ``ce`` (one
#: class; a target of -100 is not supervised) or ``bce`` (multi-hot).
TARGETS: dict[str, tuple[str, str, str, int]] = {
    "token_place": ("vision", "token", "ce", 4),
    "token_colour": ("vision", "token", "ce", len(COLOUR_NAMES) + 1),
    "token_shape": ("vision", "token", "ce", len(SHAPE_NAMES) + 1),
    "seen_colours": ("vision", "clip", "bce", len(COLOUR_NAMES)),
    "seen_shapes": ("vision", "clip", "bce", len(SHAPE_NAMES)),
    "motions": ("vision", "clip", "bce", len(MOTIONS)),
    "face": ("vision", "clip", "ce", len(FACES)),
    "mood": ("vision", "clip", "ce", len(MOODS)),
    "heard_colours": ("audio", "clip", "bce", len(COLOUR_NAMES)),
    "heard_shapes": ("audio", "clip", "bce", len(SHAPE_NAMES)),
    "voice_mood": ("audio", "clip", "ce", len(MOODS)),
    "speaker_high": ("audio", "clip", "ce", 2),
    "per_second": ("audio", "second", "bce", N_SOUND),
}

#: targets added only when asked for by name (a base made without them stays reproducible). level
#: ``time_token``: one target per merged token of each temporal group, given per second of the clip.
OPTIONAL_TARGETS: dict[str, tuple[str, str, str, int]] = {
    "token_ninth": ("vision", "token", "ce", len(NINTHS) + 1),
    "token_motion": ("vision", "time_token", "ce", len(MOTION_NAMES) + 1),
}


def _quarter(x: float, y: float) -> int:
    """0 top left, 1 top right, 2 bottom left, 3 bottom right: the raster order of a 56-px frame's merged tokens."""
    return 2 * int(y >= 0.5) + int(x >= 0.5)


def _multi_hot(names: set[str], vocab: tuple[str, ...]) -> np.ndarray:
    out = np.zeros(len(vocab), dtype=np.float32)
    for n in names:
        out[vocab.index(n)] = 1.0
    return out


def _sounding_at(obj: dict, t: float) -> bool:
    return any(a <= t < b for a, b in obj.get("sounding", []))


def _token_motions(seen: list[dict], t: float) -> list[int]:
    """Per quarter, the motion (index + 1) of the last-drawn object visible at ``t`` whose base centre is in it,
    0 for none. The base centre, not the moving one: the scene graph does not record a motion's phase."""
    out = [0] * 4
    for o in seen:
        if any(a <= t < b for a, b in o.get("visible", [])):
            out[_quarter(o["x"], o["y"])] = MOTION_NAMES.index(o["motion"]) + 1
    return out


def _sound_vector(objects: list[dict]) -> np.ndarray:
    out = np.zeros(N_SOUND, dtype=np.float32)
    for o in objects:
        c, s = split_class(o["class"])
        out[COLOUR_NAMES.index(c)] = out[len(COLOUR_NAMES) + SHAPE_NAMES.index(s)] = 1.0
    return out


def scene_targets(scene: dict, *, moment: float | None) -> dict[str, np.ndarray | int | list[int]]:
    """Targets of a shapes clip. ``moment``: the second a still shows and hears (one frame, one audio window);
    None for a video, whose sound is also given second by second."""
    seen = [o for o in scene["objects"] if o["onscreen"]]
    out: dict = {
        "seen_colours": _multi_hot({split_class(o["class"])[0] for o in seen}, COLOUR_NAMES),
        "seen_shapes": _multi_hot({split_class(o["class"])[1] for o in seen}, SHAPE_NAMES),
    }
    if moment is not None:
        colour, shape, where = [0] * 4, [0] * 4, [0] * 4
        for o in seen:  # later objects are drawn on top: the last whose centre is in a quarter names it
            q, (c, sh) = _quarter(o["x"], o["y"]), split_class(o["class"])
            colour[q], shape[q] = COLOUR_NAMES.index(c) + 1, SHAPE_NAMES.index(sh) + 1
            where[q] = NINTHS.index(ninth(o["x"], o["y"])) + 1
        out["token_colour"], out["token_shape"], out["token_ninth"] = colour, shape, where
        out["token_place"] = [0, 1, 2, 3]  # each token's own quarter: where it is, in what it carries
        loud = [o for o in scene["objects"] if _sounding_at(o, int(moment) + 0.5)]
    else:
        out["motions"] = _multi_hot({o["motion"] for o in seen}, tuple(MOTIONS))
        seconds = int(scene["duration"])
        out["token_motion"] = [_token_motions(seen, t + 0.5) for t in range(seconds)]
        out["per_second"] = np.stack(
            [_sound_vector([o for o in scene["objects"] if _sounding_at(o, t + 0.5)]) for t in range(seconds)]
        )
        loud = [o for o in scene["objects"] if o.get("sounding")]
    sound = _sound_vector(loud)
    out["heard_colours"], out["heard_shapes"] = sound[: len(COLOUR_NAMES)], sound[len(COLOUR_NAMES) :]
    return out


def face_targets(scene: dict) -> dict[str, int]:
    """Targets of a talking face: the drawn face and mood (vision), the voice's mood and whether the speaker is
    high-pitched (audio; the corpus says so from a base pitch of 160 Hz up)."""
    emotion = scene["emotion"]
    return {
        "face": FACES.index(FACE_VOICE_MOOD[emotion][0]),
        "mood": MOODS.index(emotion),
        "voice_mood": MOODS.index(emotion),
        "speaker_high": int(scene["base_f0"] >= 160),
    }


def record_targets(dataset: str, meta: dict) -> dict | None:
    """The targets of a corpus record's clip by its layout; None for the matching layouts (their own
    track is not the one heard: the contrastive objective sees their clips through the scenes)."""
    if dataset == "pt_face":
        return face_targets(meta["scene"])
    if dataset in ("pt_still", "pt_still10"):
        return scene_targets(meta["scene"], moment=float(meta["frame_time"]))
    if dataset == "pt_scene":
        return scene_targets(meta["scene"], moment=None)
    return None
