"""The special tokens of the Qwen2.5-Omni chat layout by role, and their ids in a given tokenizer.

Why here, at the bottom: the processor (``data``) writes these tokens into prompts and the model builder
(``model``) writes their ids into the thinker config, and neither may import the other; the roles are the
contract both read. Plain Python: ``special_token_ids`` asks the tokenizer object it is given, whichever library
built it (the tiny one of :mod:`crabplus.data.tokenizer` or the real Qwen2.5-Omni one).
"""

from __future__ import annotations

#: Special tokens by role -> the Qwen2.5-Omni token string (the keys of :func:`special_token_ids`).
SPECIAL_TOKENS: dict[str, str] = {
    "pad": "<|endoftext|>",
    "im_start": "<|im_start|>",
    "im_end": "<|im_end|>",
    "audio": "<|AUDIO|>",
    "audio_bos": "<|audio_bos|>",
    "audio_eos": "<|audio_eos|>",
    "image": "<|IMAGE|>",
    "video": "<|VIDEO|>",
    "vision_bos": "<|vision_bos|>",
    "vision_eos": "<|vision_eos|>",
}


def special_token_ids(tokenizer) -> dict[str, int]:
    """The id of each special token by role (pad, im_start, im_end, audio, audio_bos, audio_eos, image, video,
    vision_bos, vision_eos); an error names every token the tokenizer does not have as a single token."""
    ids: dict[str, int] = {}
    missing = []
    unk = getattr(tokenizer, "unk_token_id", None)
    for role, text in SPECIAL_TOKENS.items():
        tid = tokenizer.convert_tokens_to_ids(text)
        if tid is None or (unk is not None and tid == unk) or tokenizer.convert_ids_to_tokens(tid) != text:
            missing.append(text)
        else:
            ids[role] = int(tid)
    if missing:
        raise ValueError(
            f"tokenizer {type(tokenizer).__name__} lacks the special token(s) {', '.join(missing)}; "
            "a Qwen2.5-Omni tokenizer or build_tiny_tokenizer() is needed"
        )
    return ids
