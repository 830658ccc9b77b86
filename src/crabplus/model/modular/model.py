"""The modular audio-visual LLM (Crab's paradigm) from transformers' parts, no fork: a vision tower (``CLIPVisionModel``
or ``SiglipVisionModel``), an audio encoder (``WhisperEncoder``), one projector per modality
(:mod:`crabplus.model.modular.projector`) and any ``AutoModelForCausalLM``.

It reads the batches the processor writes for it (crabplus.schema.layouts) under the thinker's key names, so the
collator, the trainer, prediction and the adapters treat both families alike:

- ``pixel_values_videos`` [frames, 3, S, S] / ``pixel_values`` [images, 3, S, S]: each frame encoded alone, its
  patch tokens (the class token dropped) -> ``vision_queries`` tokens spliced at the ``<|VIDEO|>`` / ``<|IMAGE|>``
  placeholders in order; ``video_grid_thw`` / ``image_grid_thw`` hold (frames, S, S) per item and are not needed;
- ``input_features`` [items, mels, F] with ``feature_attention_mask`` [items, F]: each item's valid frames cut into
  the encoder's windows (Whisper: 30 s; positions 20 ms apart), encoded, the outputs cut into one-second segments,
  each -> ``audio_queries`` tokens at the ``<|AUDIO|>`` placeholders (padding masked out of the projector).

Splicing fails loudly, naming both counts. Submodule names are the thinker's where they mean the same
(``visual``, ``audio_tower``: the adapters' ``encoders`` switch leaves them alone by that name; ``lm_head`` inside
``language_model``), so I-LoRA and PEFT apply to the LLM's q/k/v/o/gate/up/down unchanged.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoModel, AutoModelForCausalLM, WhisperConfig
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from crabplus.model.modular.hf_config import ModularAVConfig
from crabplus.model.modular.positions import grid_position_ids, install_sectioned_rotary
from crabplus.model.modular.projector import Projector
from crabplus.schema.layouts import audio_segments


class ModularAVModel(nn.Module):
    """Vision encoder + audio encoder + projectors + causal LM; ``forward`` and ``generate`` take the thinker's
    keyword arguments. Parts may be given already built (loaded from their checkpoints); else they are made from
    ``config`` with random weights."""

    main_input_name = "input_ids"
    base_model_prefix = ""  # what PEFT asks a transformers-like model (it has a config with a model_type)

    def __init__(
        self,
        config: ModularAVConfig,
        *,
        visual: nn.Module | None = None,
        audio_tower: nn.Module | None = None,
        language_model: nn.Module | None = None,
        attn_implementation: str = "sdpa",
    ):
        super().__init__()
        self.config = config
        for part in (visual, audio_tower, language_model):
            # composing the parts' configs into one resets their attention implementation to None (transformers
            # sets it on every sub-config); the tiny LLM then gave logits up to 8.0 away from the same LLM alone
            if part is not None:
                part.config._attn_implementation = attn_implementation
        self.visual = (
            visual
            if visual is not None
            else AutoModel.from_config(config.vision_config, attn_implementation=attn_implementation)
        )
        self.audio_tower = (
            audio_tower if audio_tower is not None else _whisper_encoder(config.audio_config, attn_implementation)
        )
        llm = config.text_config.hidden_size
        self.vision_projector = Projector(
            config.projector,
            config.qformer_config,
            config.vision_config.hidden_size,
            llm,
            config.vision_queries,
            places=config.vision_places,
            grid=config.vision_positions == "grid",
            merge=config.vision_merge,
            patches_per_token=config.vision_patches_per_token,
        )
        self.audio_projector = Projector(
            config.projector, config.qformer_config, config.audio_config.d_model, llm, config.audio_queries
        )
        self.language_model = (
            language_model
            if language_model is not None
            else AutoModelForCausalLM.from_config(config.text_config, attn_implementation=attn_implementation)
        )
        if config.vision_positions == "grid":
            install_sectioned_rotary(self.language_model, config.mrope_section)
        self._no_split_modules = sorted(
            {
                name
                for part in (self.visual, self.audio_tower, self.language_model)
                for name in (getattr(part, "_no_split_modules", None) or [])
            }
        )

    # ------------------------------------------------------------------ what callers of a thinker read

    @property
    def generation_config(self):
        return self.language_model.generation_config

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return self.language_model.dtype

    def get_input_embeddings(self) -> nn.Module:
        return self.language_model.get_input_embeddings()

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs: dict | None = None) -> None:
        for part in (self.visual, self.audio_tower, self.language_model):
            if getattr(part, "supports_gradient_checkpointing", False):
                part.gradient_checkpointing_enable(gradient_checkpointing_kwargs=gradient_checkpointing_kwargs)

    # ------------------------------------------------------------------ encoders + projectors

    def frame_states(self, pixels: torch.Tensor) -> torch.Tensor:
        """[N, 3, S, S] frames -> [N, P, d_v]: the vision tower's patch tokens that the projector reads (also what
        the encoder stage trains, :mod:`crabplus.train.encoders`)."""
        pixels = pixels.to(device=self.device, dtype=self.visual.dtype)
        resized = pixels.shape[-1] != self.config.vision_config.image_size
        out = self.visual(pixel_values=pixels, output_hidden_states=True, interpolate_pos_encoding=resized)
        tokens = out.hidden_states[self.config.vision_feature_layer]  # [N, (1 +) P, d_v]
        if self.config.vision_has_cls:
            tokens = tokens[:, 1:]  # [N, P, d_v]: the patches
        return tokens

    def encode_frames(self, pixels: torch.Tensor) -> torch.Tensor:
        """[N, 3, S, S] frames -> [N * vision_queries, D] LLM tokens, frame by frame."""
        return self.vision_projector(self.frame_states(pixels)).flatten(0, 1)  # [N * q_v, D]

    def encode_audio(self, features: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """[n, mels, F] log-mel (+ [n, F] valid-frame mask) -> [sum_i segments_i * audio_queries, D] LLM tokens."""
        tokens, real, _ = self.audio_states(features, mask)
        out = self.audio_projector(tokens, real)  # [S, q_a, D]
        return out.flatten(0, 1)  # [S * q_a, D]

    def audio_states(
        self, features: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """[n, mels, F] log-mel (+ [n, F] valid-frame mask) -> the audio encoder's outputs cut into one-second
        segments, [S, half, d_a], their [S, half] mask (1 = a position over real frames) and the segments of each
        item (summing to S): what the projector reads, and what the encoder stage trains."""
        n, mels, frames = features.shape
        if mask is None:
            mask = torch.ones(n, frames, dtype=torch.long, device=features.device)
        window = 2 * int(self.config.audio_config.max_source_positions)  # mel frames the encoder reads at once
        segment = int(self.config.audio_segment_frames)
        valid = [int(v) for v in mask.sum(dim=1).tolist()]
        wins, counts = [], []
        for i, v in enumerate(valid):
            k = -(-max(v, 1) // window)  # windows of this item
            x = features[i, :, :v]  # [mels, v]
            x = nn.functional.pad(x, (0, k * window - v))  # [mels, k * window], silence = 0 as the collator pads
            wins.append(x.reshape(mels, k, window).permute(1, 0, 2))  # [k, mels, window]
            counts.append(k)
        dtype = next(self.audio_tower.parameters()).dtype
        encoded = self.audio_tower(torch.cat(wins).to(device=self.device, dtype=dtype)).last_hidden_state
        per_item = encoded.split(counts)  # each [k, window / 2, d_a]
        half = segment // 2  # encoder positions per segment (the stem halves the frame rate)
        tokens, masks = [], []
        for v, enc in zip(valid, per_item):
            s = audio_segments(v, segment)
            flat = enc.reshape(-1, enc.shape[-1])[: s * half]  # [s * half, d_a]
            tokens.append(flat.reshape(s, half, -1))  # [s, half, d_a]
            real = (torch.arange(s * half, device=flat.device) * 2 < max(v, 1)).long()  # position j covers 2j, 2j+1
            masks.append(real.reshape(s, half))
        return torch.cat(tokens), torch.cat(masks), [t.shape[0] for t in tokens]

    def embed_inputs(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        pixel_values_videos: torch.Tensor | None = None,
        input_features: torch.Tensor | None = None,
        feature_attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """[B, L] ids -> [B, L, D] embeddings with each placeholder run replaced by its media's tokens."""
        embeds = self.get_input_embeddings()(input_ids)  # [B, L, D]
        media = (
            ("image", self.config.image_token_id, pixel_values, self.encode_frames),
            ("video", self.config.video_token_id, pixel_values_videos, self.encode_frames),
            ("audio", self.config.audio_token_id, input_features, None),
        )
        for name, token_id, values, encode in media:
            where = input_ids == token_id  # [B, L]
            n_slots = int(where.sum())
            if values is None:
                if n_slots:
                    raise ValueError(f"the prompt holds {n_slots} {name} placeholder tokens but no {name} input")
                continue
            feats = encode(values) if encode is not None else self.encode_audio(values, feature_attention_mask)
            if feats.shape[0] != n_slots:
                raise ValueError(
                    f"{name}: the prompt holds {n_slots} placeholder tokens but the encoder and "
                    f"projector gave {feats.shape[0]} tokens; the processor and the model disagree"
                )
            embeds = embeds.masked_scatter(where.unsqueeze(-1), feats.to(embeds.dtype))  # [B, L, D]
        return embeds

    # ------------------------------------------------------------------ the thinker's interface

    def grid_positions(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        image_grid_thw: torch.Tensor | None = None,
        video_grid_thw: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``vision_positions: grid``: the [3, B, L] time / height / width positions of a batch and each row's
        next position [B] (:func:`crabplus.model.modular.positions.grid_position_ids`)."""
        media = {
            self.config.image_token_id: [] if image_grid_thw is None else image_grid_thw[:, 0].tolist(),
            self.config.video_token_id: [] if video_grid_thw is None else video_grid_thw[:, 0].tolist(),
        }
        return grid_position_ids(
            input_ids,
            attention_mask,
            media,
            self.config.vision_grid,
            self.config.grid_frames_per_time,
            self.config.grid_time_step,
        )

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        image_grid_thw: torch.Tensor | None = None,
        pixel_values_videos: torch.Tensor | None = None,
        video_grid_thw: torch.Tensor | None = None,
        video_second_per_grid: torch.Tensor | None = None,
        input_features: torch.Tensor | None = None,
        feature_attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ):
        """The causal LM's output (``.logits``, ``.loss`` when ``labels``) on the spliced embeddings."""
        if inputs_embeds is None:
            inputs_embeds = self.embed_inputs(
                input_ids, pixel_values, pixel_values_videos, input_features, feature_attention_mask
            )
        if self.config.vision_positions == "grid" and kwargs.get("position_ids") is None and input_ids is not None:
            if attention_mask is None:  # the mask is given on: with none, transformers reads positions as packing
                attention_mask = torch.ones_like(input_ids)
            kwargs["position_ids"], _ = self.grid_positions(input_ids, attention_mask, image_grid_thw, video_grid_thw)
        return self.language_model(inputs_embeds=inputs_embeds, attention_mask=attention_mask, labels=labels, **kwargs)

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        image_grid_thw: torch.Tensor | None = None,
        pixel_values_videos: torch.Tensor | None = None,
        video_grid_thw: torch.Tensor | None = None,
        video_second_per_grid: torch.Tensor | None = None,
        input_features: torch.Tensor | None = None,
        feature_attention_mask: torch.Tensor | None = None,
        **kwargs,
    ) -> torch.Tensor:
        """The causal LM's ``generate`` from the spliced prompt: [B, prompt + new] ids, as the thinker returns.
        With ``vision_positions: grid``, greedy decoding here (:meth:`_generate_grid`): transformers' ``generate``
        numbers a causal LM's new tokens on one axis from the attention mask."""
        embeds = self.embed_inputs(input_ids, pixel_values, pixel_values_videos, input_features, feature_attention_mask)
        if self.config.vision_positions == "grid":
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids)
            positions, nxt = self.grid_positions(input_ids, attention_mask, image_grid_thw, video_grid_thw)
            return self._generate_grid(input_ids, attention_mask, embeds, positions, nxt, **kwargs)
        return self.language_model.generate(
            input_ids=input_ids, inputs_embeds=embeds, attention_mask=attention_mask, **kwargs
        )

    def _generate_grid(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        embeds: torch.Tensor,
        positions: torch.Tensor,
        nxt: torch.Tensor,
        max_new_tokens: int = 512,
        eos_token_id: int | list[int] | None = None,
        pad_token_id: int | None = None,
        stopping_criteria=None,
        do_sample: bool = False,
        num_beams: int = 1,
        use_cache: bool = True,
        **unsupported,
    ) -> torch.Tensor:
        """Greedy decoding with a KV cache, each new token at its row's next position on all three axes; a row
        that ends (an ``eos_token_id`` or a stopping criterion) is padded with ``pad_token_id`` from then on, as
        transformers' ``generate`` does. Sampling, beams and other options are refused."""
        from transformers import DynamicCache

        refused = sorted(unsupported) + (["do_sample"] if do_sample else []) + (["num_beams"] if num_beams != 1 else [])
        if refused:
            raise ValueError(
                f"vision_positions 'grid' decodes greedily with a dynamic cache only; unsupported options: {refused}"
            )
        eos = torch.tensor(
            [] if eos_token_id is None else ([eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id)),
            dtype=torch.long,
            device=input_ids.device,
        )
        pad = int(pad_token_id if pad_token_id is not None else (eos[0] if len(eos) else 0))
        cache = DynamicCache(config=self.language_model.config)
        out = self.language_model(
            inputs_embeds=embeds,
            attention_mask=attention_mask,
            position_ids=positions,
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        tokens, mask = input_ids, attention_mask
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)  # [B]
        for step in range(max_new_tokens):
            new = out.logits[:, -1].argmax(dim=-1)  # [B]
            new = torch.where(done, torch.full_like(new, pad), new)
            tokens = torch.cat([tokens, new[:, None]], dim=1)  # [B, L + step + 1]
            done |= torch.isin(new, eos)
            if stopping_criteria is not None:
                done |= stopping_criteria(tokens, None).to(done.device)
            if bool(done.all()) or step + 1 == max_new_tokens:
                break
            mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)  # [B, L + step + 1]
            where = (nxt + step).view(1, -1, 1).expand(3, -1, 1)  # [3, B, 1]
            out = self.language_model(
                input_ids=new[:, None], attention_mask=mask, position_ids=where, cache=cache, use_cache=True
            )
        return tokens


def _whisper_encoder(config: WhisperConfig, attn_implementation: str) -> WhisperEncoder:
    config._attn_implementation = attn_implementation
    return WhisperEncoder(config)
