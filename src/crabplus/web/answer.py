"""One answer with the router weights behind each of its tokens: what the demo colours.

The pipeline is prediction's (processor -> greedy generate -> text); what differs is that the generated
token ids are kept and the I-LoRA routers are recorded for every position. The weights shown for answer
token j are those at the position whose logits chose it: the last prompt position for the first token,
then the position of token j-1 (generation feeds each token back once). Layers are the LLM's decoder
layers, each the mean over its adapted projections (q/k/v/o/gate/up/down).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from crabplus.adapters.apply import in_encoder
from crabplus.schema.records import Record

LAYER = re.compile(r"^(?:.*\.)?layers\.(\d+)\.")


@dataclass
class RoutedAnswer:
    text: str  # the answer, as prediction writes it (special tokens skipped, stripped)
    tokens: list[str] = field(default_factory=list)  # one string per generated token (special ones dropped)
    layers: list[str] = field(default_factory=list)  # "layer 0", "layer 1", ...
    weights: list[list[list[float]]] = field(default_factory=list)  # [layer][token][head], rows sum to 1
    notes: list[str] = field(default_factory=list)  # media completed, as crabplus predict notes them

    @property
    def num_experts(self) -> int:
        return len(self.weights[0][0]) if self.weights and self.weights[0] else 0


def layer_groups(names: list[str]) -> dict[int, list[str]]:
    """Adapted module names grouped by decoder layer index (modules outside ``layers.N`` and the encoders' layers,
    of either model family, are left out)."""
    groups: dict[int, list[str]] = {}
    for name in names:
        match = LAYER.match(name)
        if match and not in_encoder(name):
            groups.setdefault(int(match[1]), []).append(name)
    return dict(sorted(groups.items()))


def answer_with_routing(predictor, record: Record, root: str | Path, max_new_tokens: int = 128) -> RoutedAnswer:
    """Generate the answer to one record and collect per-token router weights (none without I-LoRA)."""
    from crabplus.adapters import RoutingRecorder
    from crabplus.infer.batch import encode_batch, has_ilora
    from crabplus.model.generate import generate_ids
    from crabplus.schema.tokens import special_token_ids

    model, tokenizer = predictor.model, predictor.tokenizer
    ids = special_token_ids(tokenizer)
    samples, batch = encode_batch(predictor, [record], root)  # a missing stream completed, with a note, as the CLI
    routed = has_ilora(model)
    recorder = RoutingRecorder(model) if routed else contextlib.nullcontext()
    with recorder:
        new = generate_ids(model, tokenizer, batch, max_new_tokens=max_new_tokens)[0].tolist()  # [new]
    prompt = batch["input_ids"].shape[1]
    text = tokenizer.decode(new, skip_special_tokens=True).strip()
    special = set(ids.values())
    keep = [j for j, t in enumerate(new) if t not in special]
    tokens = [tokenizer.decode([new[j]]) for j in keep]
    answer = RoutedAnswer(text=text, tokens=tokens, notes=list(samples[0].get("notes") or []))
    if not routed or not recorder.batched:
        return answer
    for index, names in layer_groups(list(recorder.batched)).items():
        g = torch.stack([recorder.weights(n)[0] for n in names]).mean(0)  # [recorded, N]
        rows = [g[min(prompt - 1 + j, g.shape[0] - 1)].tolist() for j in keep]  # [tokens][N]
        answer.layers.append(f"layer {index}")
        answer.weights.append(rows)
    return answer
