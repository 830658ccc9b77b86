"""Tokenizers: the tiny one built here with the ``tokenizers`` library, or the real Qwen2.5-Omni one from disk.

Why a tiny tokenizer: tests and the CPU demo need a vocabulary small enough for a tiny model (an embedding
of 152k rows would dominate its size) and nothing may be downloaded. It copies what matters of the
Qwen2.5-Omni tokenizer: byte-level BPE behind the same pre-tokenisation pattern (so ``"\\n"`` and digits
split the same way, which the loss span and the answer parsers rely on), the same special tokens with the
same roles (``<|endoftext|>`` pads, ``<|im_end|>`` ends a turn) and a chat template that renders the
release's layout (the release; docs/media.md). Training is deterministic: the same corpus gives the same vocabulary.

The special tokens' roles and ``special_token_ids(tokenizer)`` live in :mod:`crabplus.schema.tokens`: the
model reads them too, and the model never imports ``data``.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from crabplus.schema.geometry import SPACE
from crabplus.schema.registry import DATASETS, LEAD_IN, RELEASE_DATASETS, SYSTEM_PROMPT
from crabplus.schema.tokens import SPECIAL_TOKENS, special_token_ids

#: Named special-token attributes transformers' Qwen2.5-Omni processor reads from its tokenizer.
_NAMED_TOKENS = {
    "image_token": "<|IMAGE|>",
    "audio_token": "<|AUDIO|>",
    "video_token": "<|VIDEO|>",
    "vision_bos_token": "<|vision_bos|>",
    "vision_eos_token": "<|vision_eos|>",
    "audio_bos_token": "<|audio_bos|>",
    "audio_eos_token": "<|audio_eos|>",
}

#: The pre-tokenisation split of the Qwen2 tokenizers (contractions, letter runs with one leading
#: non-letter, single digits, punctuation runs, newline runs, spaces).
QWEN_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

TINY_VOCAB_SIZE = 2048

# Our own Jinja template. It renders each turn as ``<|im_start|>ROLE\nCONTENT<|im_end|>\n``; list contents
# become text and media placeholders with no separator (as the release does). A conversation without a system turn
# gets the stock Qwen2.5-Omni system prompt.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if loop.first and message['role'] != 'system' -%}"
    "{{ '<|im_start|>system\\n' + default_system + '<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'video' -%}{{ '<|vision_bos|><|VIDEO|><|vision_eos|>' }}"
    "{%- elif part['type'] == 'image' -%}{{ '<|vision_bos|><|IMAGE|><|vision_eos|>' }}"
    "{%- elif part['type'] == 'audio' -%}{{ '<|audio_bos|><|AUDIO|><|audio_eos|>' }}"
    "{%- else -%}{{ part['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{ '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)

_WORDS = """
a an the this that these those is are was were be been being it its there here what which who whom whose
when where why how and or but not no yes true false of in on at to from by with without for about into over
under between during after before above below up down left right top bottom middle center front back near
far inside outside first second third last next other another one two three four five six seven eight nine
ten zero several many few some all both each every any only also then than so very more most less least
object objects sound sounds sounding sounded making make makes made produce producing produced hear heard
hearing listen listening see seen seeing saw view look looking watch appear appears appeared visible audible
video videos audio clip clips frame frames image images picture scene person people man woman boy girl child
face voice speech speaking speaks talking talks sings singing song music musical instrument instruments
playing plays played play guitar piano violin cello drum drums flute trumpet saxophone accordion bagpipe
banjo ukulele harp clarinet trombone tuba xylophone bell bells church dog cat bird birds horse cow car truck
train plane helicopter motorcycle bus boat engine siren alarm phone baby crying laughing clapping cheering
water rain wind fire thunder door knock footsteps typing keyboard toilet flush vacuum cleaner chainsaw
action activity event events emotion emotions happy happiness sad sadness angry anger fear fearful surprise
surprised disgust disgusted neutral contempt calm anxious joy worried tone pitch loud quiet soft high low
fast slow rhythm beat melody timbre chord noise silence silent moving moves move static still rising falling
circle square triangle star rectangle shape shapes red green blue yellow orange purple pink white black gray
grey brown cyan magenta color colour large small big little bright dark
start end time times range ranges second seconds begins ends lasts throughout whole entire moment
box bounding coordinates point points pixel pixels category class label answer question options option
identify recognize judge describe determine indicate analyze find locate output respond state sentence name
absent exists present matches match matching correct wrong because since while until therefore so thus
I we you he she they me us him her them my our your his their think believe clearly likely probably
reasoning based information visual auditory consistent both modalities together
"""

#: the general word list (also what the perception corpus copies: crabplus.synth.pretrain_format)
GENERAL_WORDS: tuple[str, ...] = tuple(_WORDS.split())

_PUNCT = list(".,:;!?'\"()[]{}<>/\\-_+=*&%$#@^|~`")


def _corpus() -> list[str]:
    """The fixed training text: prompts of the release's datasets, answer tags, numbers, punctuation, common
    words. Only the release's rows: a benchmark registered later must not move the vocabulary (nor the
    goldens trained on it); byte-level BPE spells its words anyway."""
    lines = [SYSTEM_PROMPT, *LEAD_IN.values(), "system", "user", "assistant"]
    for spec in (DATASETS[name] for name in RELEASE_DATASETS):
        lines.append(re.sub(r"\{\w+\}", "", spec.instruction))
        lines.append(f"{spec.real_name} {spec.name} {spec.task}")
    tags = ["answer", "event", "range", "audio_event", "visual_event", "obj", "des"]
    lines += [f"<{t}>x</{t}>" for t in tags]
    lines += [
        "<answer>true</answer>",
        "<answer>false</answer>",
        "The object is absent.",
        "The sounding object is x. Its coordinates are <obj>(1,2)(3,4)</obj>.",
        "<event>x</event><range>2,6</range>",
        "<audio_event>x,(1 5)</audio_event>",
    ]
    lines += [f"[{i},{i + 1},{i + 2},{i + 3}] [{i},{i}]" for i in range(0, SPACE, 7)]
    lines += [f"{i} {i}.5 ({i} {i + 1})" for i in range(0, 61)]
    lines += [" ".join(_PUNCT), "".join(_PUNCT)]
    words = _WORDS.split()
    # Each word in a few casings and spacings, so that " word", "Word" and "word." become tokens.
    for w in words:
        lines.append(f"{w} {w.capitalize()} {w}. {w}, the {w} of {w}s")
    return lines


@functools.lru_cache(maxsize=1)
def _train_tokenizer_json() -> str:
    """Train the tiny byte-level BPE once per process and return its serialised form."""
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_SPLIT_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TINY_VOCAB_SIZE,
        min_frequency=1,
        special_tokens=list(SPECIAL_TOKENS.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    return tok.to_str()


def build_tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A small (~2k) byte-level BPE tokenizer with the Qwen2.5-Omni special tokens and our chat template.

    Built from a fixed corpus with the ``tokenizers`` library (nothing downloaded); two calls give the same
    vocabulary. Save it next to a tiny model with ``save_pretrained`` and load it with :func:`load_tokenizer`.
    """
    tok = Tokenizer.from_str(_train_tokenizer_json())
    out = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=SPECIAL_TOKENS["pad"],
        eos_token=SPECIAL_TOKENS["im_end"],
        extra_special_tokens=dict(_NAMED_TOKENS),
        padding_side="right",
        clean_up_tokenization_spaces=False,
        model_max_length=32768,
    )
    out.chat_template = CHAT_TEMPLATE.replace("default_system", repr(SYSTEM_PROMPT))
    return out


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    """Load a saved tokenizer (ours, or the real Qwen2.5-Omni one inside a checkpoint directory).

    Local files only and no remote code. A tokenizer without a chat template (some checkpoints keep it in the
    processor's files) gets ours, which renders the same layout as the stock Qwen2.5-Omni template.
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"tokenizer directory not found: {path}")
    if not any((path / name).is_file() for name in ("tokenizer.json", "vocab.json", "tokenizer_config.json")):
        raise FileNotFoundError(f"{path}: no tokenizer files (tokenizer.json / vocab.json + merges.txt)")
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
    special_token_ids(tokenizer)  # fail early, naming what is missing
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = CHAT_TEMPLATE.replace("default_system", repr(SYSTEM_PROMPT))
    return tokenizer
