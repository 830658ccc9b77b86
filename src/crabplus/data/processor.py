"""Unified record + tokenizer -> the Qwen2.5-Omni thinker's inputs for one sample (the release; docs/media.md).

The chat is the release's: the stock system prompt; a user turn of lead-in text, media placeholders with no
separator, then the instruction; the target as the assistant turn (training) or an open assistant turn
(generation). Media order: vision then audio, except a2v (audio, then its two clips joined into one
20-frame video); v2a joins its two windowed audios into one. Each placeholder is expanded to the number of
tokens the thinker's encoders emit for that item, so splicing cannot disagree:

- vision: ``t*h*w / merge^2`` of the item's grid (a 10-frame 224 px video: 5*16*16/4 = 320);
- audio: the audio encoder's output length for the valid mel frames (1 s -> 100 frames -> 25 tokens at the
  released 10 ms hop; the tiny preset's 20 ms hop gives 50 frames -> 12 tokens).

Labels are -100 except the span the release supervises: from right after the first ``<|im_start|>assistant``
to the next ``<|im_end|>`` inclusive, i.e. ``"\\n" + target + "<|im_end|>"``.

A modular model's config (crabplus.schema.layouts) switches three things, in :mod:`crabplus.data.modular`: frames
stay whole images, placeholders expand to its projectors' query counts, and the user turn takes Crab's layout.

Differences from the release, on purpose: audio features are not padded to 30 s (the encoder reads only
the valid frames; ``feature_attention_mask`` marks them; the collator pads to the batch's longest), and a
batch for generation is left-padded (see :mod:`crabplus.data.collate`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from crabplus.data.audio_features import HOP, audio_token_count, mel_hop_length, whisper_log_mel
from crabplus.data.cache import MediaCache
from crabplus.data.media import check_file, has_streams, read_audio, read_frame_at, read_frames, read_image
from crabplus.data.modular import ModularMedia, crab_user_content
from crabplus.data.vision import VisionGeometry, vision_input
from crabplus.data.windows import apply_window, check_window_index, fit_to_chunk
from crabplus.schema.layouts import is_modular
from crabplus.schema.records import Record, RecordError, resolve_media
from crabplus.schema.registry import SYSTEM_PROMPT, get_spec
from crabplus.schema.tokens import special_token_ids

IGNORE_INDEX = -100
_PLACEHOLDER = {
    "video": "<|vision_bos|><|VIDEO|><|vision_eos|>",
    "image": "<|vision_bos|><|IMAGE|><|vision_eos|>",
    "audio": "<|audio_bos|><|AUDIO|><|audio_eos|>",
}


def even_frames(n: int) -> int:
    """The release rounds frame counts to a multiple of 2 (``round(n / 2) * 2``), at least 2."""
    return max(2, int(round(n / 2)) * 2)


def conversation(record: Record, *, with_target: bool, crab_layout: bool = False) -> list[dict]:
    """The record as chat messages in the release's format (also valid input to ``apply_chat_template``);
    ``crab_layout``: the user turn in Crab's (the modular family's) layout instead."""
    spec = get_spec(record.dataset)
    vision = "image" if spec.visual == "image" else "video"
    media = (
        [{"type": "audio"}, {"type": vision}] if spec.visual == "two_videos" else [{"type": vision}, {"type": "audio"}]
    )
    user = [{"type": "text", "text": spec.lead_in}, *media, {"type": "text", "text": record.instruction}]
    if crab_layout:
        user = crab_user_content(spec, record.instruction)
    system = record.meta.get("system_prompt") if isinstance(record.meta, dict) else None  # a chat's own
    messages = [{"role": "system", "content": system or SYSTEM_PROMPT}, {"role": "user", "content": user}]
    if with_target:
        messages.append({"role": "assistant", "content": record.target})
    return messages


def render_chat(messages: list[dict], *, add_generation_prompt: bool) -> str:
    """The text of the Qwen2.5-Omni chat template for ``messages`` (one placeholder per media item)."""
    out = []
    for message in messages:
        content = message["content"]
        if not isinstance(content, str):
            content = "".join(_PLACEHOLDER[p["type"]] if p["type"] in _PLACEHOLDER else p["text"] for p in content)
        out.append(f"<|im_start|>{message['role']}\n{content}<|im_end|>\n")
    if add_generation_prompt:
        out.append("<|im_start|>assistant\n")
    return "".join(out)


class CrabProcessor:
    """Encodes records for a Qwen2.5-Omni thinker (``thinker_config``: transformers' ``Qwen2_5OmniThinkerConfig``).

    ``image_size`` is the square side frames and images are resized to (224 real, 56 tiny); ``cache_dir``
    enables the on-disk cache of decoded frames and audio features (:class:`~crabplus.data.cache.MediaCache`).
    """

    def __init__(
        self,
        tokenizer,
        thinker_config,
        image_size: int = 224,
        cache_dir: str | Path | None = None,
        *,
        video_fps: float = 1.0,
    ):
        self.tokenizer = tokenizer
        self.modular = ModularMedia.from_config(thinker_config) if is_modular(thinker_config) else None
        if self.modular is not None:
            self.geometry = VisionGeometry(self.modular.patch_size, 1, 1)  # frames only need whole patches
        else:
            self.geometry = VisionGeometry.from_config(thinker_config.vision_config)
        if image_size <= 0 or image_size % self.geometry.factor:
            raise ValueError(
                f"image_size {image_size} must be a positive multiple of patch_size * "
                f"spatial_merge_size = {self.geometry.factor}"
            )
        self.image_size = image_size
        self.n_mels = int(thinker_config.audio_config.num_mel_bins)
        self.mel_hop = mel_hop_length(thinker_config.audio_config)
        self.ids = special_token_ids(tokenizer)
        for role, attr in (("audio", "audio_token_id"), ("image", "image_token_id"), ("video", "video_token_id")):
            if int(getattr(thinker_config, attr)) != self.ids[role]:
                raise ValueError(
                    f"thinker config {attr}={getattr(thinker_config, attr)} but the tokenizer's "
                    f"{_PLACEHOLDER[role]} is {self.ids[role]}: config and tokenizer do not match"
                )
        self.pad_id = self.ids["pad"]
        # The release's processor assumes 1 fps when none is passed: a temporal grid of 2 frames spans 2 s.
        self.seconds_per_grid = self.geometry.temporal_patch_size / video_fps
        self._assistant = tokenizer("<|im_start|>assistant", add_special_tokens=False)["input_ids"]
        self.cache = MediaCache(cache_dir) if cache_dir is not None else None

    # ---------------------------------------------------------------- media (optionally cached)

    def _cached(self, kind: str, sources: list[Path], params: dict, compute) -> np.ndarray:
        for p in sources:
            check_file(p)
        if self.cache is None:
            return compute()
        return self.cache.get_or_compute(kind, sources, params, compute)

    def frames(self, path: Path, num_frames: int) -> np.ndarray:
        """uint8 [num_frames, S, S, 3]."""
        return self._cached(
            "frames",
            [path],
            {"n": num_frames, "size": self.image_size},
            lambda: read_frames(path, num_frames, self.image_size),
        )

    def still(self, path: Path, *, second: float | None = None) -> np.ndarray:
        """uint8 [S, S, 3]: an image file, or the frame of a video at ``second``."""
        if second is None:
            return self._cached("image", [path], {"size": self.image_size}, lambda: read_image(path, self.image_size))
        return self._cached(
            "frame_at",
            [path],
            {"second": second, "size": self.image_size},
            lambda: read_frame_at(path, second, self.image_size),
        )

    def log_mel(self, paths: list[Path], window: str, index: int | None) -> np.ndarray:
        """float32 [n_mels, frames]: each file's audio windowed, joined end to end, fitted to 30 s
        (:func:`fit_to_chunk`: longer audio keeps ten evenly spread windows), log-mel."""

        def compute() -> np.ndarray:
            audio = np.concatenate([apply_window(read_audio(p), window, index) for p in paths])
            return whisper_log_mel(fit_to_chunk(audio), self.n_mels, self.mel_hop)

        params = {"window": window, "index": index, "n_mels": self.n_mels, "fit": "spread10"}
        if self.mel_hop != HOP:
            params["hop"] = self.mel_hop
        return self._cached("logmel", paths, params, compute)

    # ---------------------------------------------------------------- encoding

    def encode(self, record: Record, root: str | Path, *, with_target: bool, complete_streams: bool = False) -> dict:
        """One sample's tensors (see the module notes), plus ``id`` and ``dataset``.

        ``complete_streams`` (prediction on a user's own files): a video without an audio track gets a
        silent one, an audio-only file blank frames, each with a note in ``notes``; otherwise (training,
        datasets) a missing stream is a MediaError.
        """
        spec = get_spec(record.dataset)
        media = record.media

        def where(name: str) -> Path:
            rel = getattr(media, name)
            if rel is None:
                raise RecordError(f"{spec.name} needs this media path", record_id=record.id, field=f"media.{name}")
            return resolve_media(root, rel)

        try:  # record problems first, before any media work
            check_window_index(spec.audio_window, media.audio_window_index)
        except ValueError as exc:
            raise RecordError(str(exc), record_id=record.id, field="media.audio_window_index") from None
        if spec.visual == "image" and media.image is None and media.frame_second is None:
            raise RecordError(
                "an image task without media.image needs media.frame_second",
                record_id=record.id,
                field="media.frame_second",
            )

        out: dict = {}
        notes: list[str] = []
        own_track_silent, blank_video = 0.0, False
        if complete_streams:  # prediction: a missing stream becomes a blank/silent one, with a note
            own_track_silent, blank_video = self._lenient_media(spec, media, where, notes)
        if spec.visual == "image":
            image = self.still(where("image")) if media.image else self.still(where("video"), second=media.frame_second)
            if self.modular is not None:
                out["pixel_values"], out["image_grid_thw"], n_vision = self.modular.vision_input(image[None])
            else:
                out["pixel_values"], out["image_grid_thw"] = vision_input(image[None], self.geometry)
                n_vision = self.geometry.tokens(tuple(out["image_grid_thw"][0].tolist()))
        else:
            n = even_frames(spec.num_frames)
            if blank_video:
                frames = np.zeros((n, self.image_size, self.image_size, 3), dtype=np.uint8)
            else:
                frames = self.frames(where("video"), n)
            if spec.visual == "two_videos":  # a2v: the two candidates joined in time, one video item
                frames = np.concatenate([frames, self.frames(where("video2"), n)])
            if self.modular is not None:
                out["pixel_values_videos"], out["video_grid_thw"], n_vision = self.modular.vision_input(frames)
            else:
                out["pixel_values_videos"], out["video_grid_thw"] = vision_input(frames, self.geometry)
                out["video_second_per_grid"] = torch.tensor([self.seconds_per_grid], dtype=torch.float32)
                n_vision = self.geometry.tokens(tuple(out["video_grid_thw"][0].tolist()))

        if spec.two_audios:  # v2a: both candidates windowed, joined end to end, one audio item
            audio_paths = [where("audio"), where("audio2")]
        elif spec.visual == "two_videos" or media.audio is not None:
            audio_paths = [where("audio")]
        else:  # the video's own track
            audio_paths = [where("video")]
        if own_track_silent:
            seconds = min(30.0, max(1.0, own_track_silent))
            silent = apply_window(
                np.zeros(int(seconds * 16000), np.float32), spec.audio_window, media.audio_window_index
            )
            mel = whisper_log_mel(silent, self.n_mels, self.mel_hop)
        else:
            mel = self.log_mel(audio_paths, spec.audio_window, media.audio_window_index)
        out["input_features"] = torch.from_numpy(np.ascontiguousarray(mel))[None]  # [1, n_mels, F]
        out["feature_attention_mask"] = torch.ones(1, mel.shape[1], dtype=torch.long)  # [1, F]
        n_audio = (
            self.modular.audio_tokens(mel.shape[1]) if self.modular is not None else audio_token_count(mel.shape[1])
        )

        messages = conversation(record, with_target=with_target, crab_layout=self.modular is not None)
        text = render_chat(messages, add_generation_prompt=not with_target)
        ids = self._expand(
            self.tokenizer(text, add_special_tokens=False)["input_ids"],
            {"image" if spec.visual == "image" else "video": n_vision, "audio": n_audio},
            record,
        )
        out["input_ids"] = torch.tensor(ids, dtype=torch.long)  # [L]
        out["attention_mask"] = torch.ones(len(ids), dtype=torch.long)
        if with_target:
            out["labels"] = self._labels(ids, record)
        out["id"], out["dataset"] = record.id, record.dataset
        if notes:
            out["notes"] = notes
        return out

    def _lenient_media(self, spec, media, where, notes: list[str]) -> tuple[float, bool]:
        """For prediction on a user's own files: (seconds of silence to use for a video without an audio
        track, 0 when it has one; whether the video is audio-only and gets blank frames). Each case, and
        audio longer than the 30 s the model hears, adds a note for the output."""
        silent, blank = 0.0, False
        if spec.visual in ("video", "two_videos", "image") and media.video is not None:  # image: a video's frame
            has_video, has_audio, seconds = has_streams(where("video"))
            if not has_video and spec.visual != "image":  # an image task needs the frame: still() says so
                blank = True
                notes.append(
                    f"{media.video}: no video stream (audio only): blank frames were used, the answer "
                    "rests on the sound alone"
                )
            own_track = media.audio is None and not spec.two_audios and spec.visual != "two_videos"
            if own_track and not has_audio:
                silent = seconds or 1.0
                notes.append(
                    f"{media.video}: no audio track: a silent track was used, the answer rests on the pictures alone"
                )
            if own_track and has_audio and seconds and spec.audio_window in ("tenths", "fifths") and seconds > 30:
                notes.append(
                    f"{media.video}: {seconds:.0f} s of audio; the model hears 30 s: ten 3 s windows "
                    "spread evenly over the clip were kept (the frames also span the whole clip)"
                )
        return silent, blank

    def _expand(self, ids: list[int], counts: dict[str, int], record: Record) -> list[int]:
        """Repeat each media placeholder id to its token count; exactly one placeholder per media item."""
        by_id = {self.ids[role]: n for role, n in counts.items()}
        found = {tid: 0 for tid in by_id}
        out: list[int] = []
        for tid in ids:
            if tid in by_id:
                found[tid] += 1
                out.extend([tid] * by_id[tid])
            else:
                out.append(tid)
        stray = {self.ids[r] for r in ("audio", "image", "video")} - set(by_id)
        if any(found[t] != 1 for t in found) or stray & set(ids):
            raise RecordError(
                f"the rendered prompt has media placeholders {found} (stray: {sorted(stray & set(ids))}),"
                " expected one per media item; does the instruction or target contain one?",
                record_id=record.id,
                field="instruction",
            )
        return out

    def _labels(self, ids: list[int], record: Record) -> torch.Tensor:
        """-100 except ``"\\n" + target + "<|im_end|>"`` after the first ``<|im_start|>assistant``."""
        k = len(self._assistant)
        start = next((i + k for i in range(len(ids) - k + 1) if ids[i : i + k] == self._assistant), None)
        if start is None:
            raise RecordError("no assistant turn in the rendered prompt", record_id=record.id, field="target")
        try:
            end = ids.index(self.ids["im_end"], start)
        except ValueError:
            raise RecordError(
                "the assistant turn is not closed by <|im_end|>", record_id=record.id, field="target"
            ) from None
        labels = torch.full((len(ids),), IGNORE_INDEX, dtype=torch.long)
        labels[start : end + 1] = torch.tensor(ids[start : end + 1], dtype=torch.long)
        return labels
