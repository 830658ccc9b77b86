"""What the demo page shows, as plain HTML strings and numpy images (no Gradio here, so it is testable alone):
the answer's tokens coloured by their I-LoRA head weights per layer, the mask over the frame, and the
events on a timeline."""

from __future__ import annotations

import html

import numpy as np

from crabplus.web.answer import RoutedAnswer

#: Head colours (RGB), head i mixes in colour i; more heads than colours cycle.
HEAD_COLOURS = ((230, 80, 60), (60, 140, 230), (70, 180, 90), (200, 160, 40), (150, 90, 200), (40, 180, 180))
MASK_COLOUR = np.array([255, 40, 200], dtype=np.float32)
TRACK_COLOURS = {"events": "#3b82f6", "audio_events": "#f59e0b", "visual_events": "#10b981"}


def head_colour(i: int) -> tuple[int, int, int]:
    return HEAD_COLOURS[i % len(HEAD_COLOURS)]


def mix(weights: list[float]) -> str:
    """CSS background of a token: the colour of its strongest head, as opaque as that head is dominant
    (0.15 at uniform weights, 1 when one head takes everything), so that small differences stay visible."""
    n = len(weights)
    top = max(range(n), key=lambda i: weights[i])
    dominance = (weights[top] - 1 / n) / (1 - 1 / n) if n > 1 else 1.0
    alpha = 0.15 + 0.85 * min(max(dominance, 0.0), 1.0)
    return "rgba({},{},{},{:.2f})".format(*head_colour(top), alpha)


def routing_html(answer: RoutedAnswer) -> str:
    """One row per decoder layer, one chip per answer token, coloured by that layer's mean head weights;
    hovering a chip shows the weights. A legend names the head colours."""
    if not answer.weights:
        return (
            "<div class='crab-routing'><p>No I-LoRA routing to show (this checkpoint has no I-LoRA layers, "
            "or the answer is empty).</p></div>"
        )
    legend = " ".join(
        f"<span style='background:rgb{head_colour(i)};color:white;padding:1px 6px;border-radius:3px'>"
        f"head {i + 1}</span>"
        for i in range(answer.num_experts)
    )
    rows = []
    for layer, per_token in zip(answer.layers, answer.weights):
        chips = []
        for token, w in zip(answer.tokens, per_token):
            tip = ", ".join(f"head {i + 1}: {x:.2f}" for i, x in enumerate(w))
            chips.append(
                f"<span class='crab-token' title='{html.escape(tip, quote=True)}' "
                f"style='background:{mix(w)};color:black;padding:2px 3px;margin:1px;border-radius:3px;"
                f"white-space:pre'>{html.escape(token) or '&nbsp;'}</span>"
            )
        rows.append(
            f"<tr><td style='padding-right:8px;white-space:nowrap'>{html.escape(layer)}</td>"
            f"<td style='line-height:1.9'>{''.join(chips)}</td></tr>"
        )
    return (
        f"<div class='crab-routing'><p>Each answer token in each LLM layer, coloured by the I-LoRA head with "
        f"the largest router weight there (mean over the layer's adapted projections), stronger the more that "
        f"head dominates; hover a token for its weights. {legend}</p>"
        f"<div style='overflow-x:auto;max-width:100%'><table>{''.join(rows)}</table></div></div>"
    )


def at_aspect(image: np.ndarray, width: int, height: int, longest: int = 640) -> np.ndarray:
    """uint8 [h, w, 3]: ``image`` (the model's square frame) resized back to the source's ``width`` : ``height``,
    its longer side at most ``longest`` pixels, so the page shows the picture as it was filmed."""
    from PIL import Image

    scale = min(1.0, longest / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size == (image.shape[1], image.shape[0]):
        return image
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))


def overlay(
    frame: np.ndarray,
    mask: np.ndarray | None,
    box: list[int] | None = None,
    points: list[list[int]] | None = None,
    alpha: float = 0.5,
) -> np.ndarray:
    """uint8 [H, W, 3]: the frame with the mask tinted, the box outlined and the points dotted (224 space)."""
    out = frame.astype(np.float32).copy()  # [H, W, 3]
    if mask is not None and mask.any():
        m = mask.astype(bool)
        out[m] = (1 - alpha) * out[m] + alpha * MASK_COLOUR
    out = out.clip(0, 255).astype(np.uint8)
    h, w = out.shape[:2]
    if box is not None and len(box) == 4:
        x0, y0, x1, y1 = (int(np.clip(v, 0, lim - 1)) for v, lim in zip(box, (w, h, w, h)))
        colour = np.array([255, 230, 0], dtype=np.uint8)
        out[y0, x0 : x1 + 1] = out[y1, x0 : x1 + 1] = colour
        out[y0 : y1 + 1, x0] = out[y0 : y1 + 1, x1] = colour
    for point in points or []:
        x, y = (int(np.clip(v, 0, lim - 1)) for v, lim in zip(point[:2], (w, h)))
        out[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3] = (0, 255, 255)
    return out


def timeline_html(tracks: dict[str, list], duration: float) -> str:
    """Events as bars on a 0..duration seconds axis, one lane per track (events / audio / visual)."""
    duration = max(float(duration), max((e.end for evs in tracks.values() for e in evs or []), default=0.0), 1e-6)
    lanes = []
    for name, events in tracks.items():
        if not events:
            continue
        colour = TRACK_COLOURS.get(name, "#6b7280")
        bars = "".join(
            f"<div class='crab-event' title='{html.escape(e.label, quote=True)} {e.start:g}-{e.end:g} s' "
            f"style='position:absolute;left:{100 * e.start / duration:.2f}%;"
            f"width:{max(100 * (e.end - e.start) / duration, 0.5):.2f}%;top:2px;bottom:2px;background:{colour};"
            f"color:white;font-size:11px;overflow:hidden;border-radius:3px;padding-left:3px'>"
            f"{html.escape(e.label)}</div>"
            for e in events
        )
        lanes.append(
            f"<div style='display:flex;align-items:center;margin:3px 0'>"
            f"<div style='width:110px'>{html.escape(name.replace('_', ' '))}</div>"
            f"<div style='position:relative;flex:1;height:24px;background:#eee'>{bars}</div></div>"
        )
    if not lanes:
        return "<div class='crab-timeline'><p>No events in the answer.</p></div>"
    ticks = "".join(
        f"<span style='position:absolute;left:{100 * t / duration:.2f}%'>{t:g}s</span>"
        for t in range(0, int(duration) + 1, max(1, int(duration) // 10))
    )
    axis = (
        f"<div style='display:flex'><div style='width:110px'></div><div style='position:relative;flex:1;"
        f"height:16px;font-size:11px'>{ticks}</div></div>"
    )
    return f"<div class='crab-timeline'>{''.join(lanes)}{axis}</div>"
