"""Chat messages in, an answer out: the Qwen2.5-Omni message format as a front door to :func:`predict`.

Why: users of Qwen2.5-Omni write their input as chat messages,

    [{"role": "system", "content": [{"type": "text", "text": "..."}]},
     {"role": "user", "content": [{"type": "video", "video": "clip.mp4"},
                                  {"type": "text", "text": "What is the man doing?"}]}]

and hand them to ``processor.apply_chat_template``. The same list is accepted here (``predict(messages=...)``,
``crabplus predict --messages FILE.json``) and turned into the arguments of the ``--task`` call, so both give
the same answer: the first video or image is VIDEO, a second video ``video2`` (a2v), the audio items
``audio`` and ``audio2`` (v2a). With a task named, the task's own instruction is asked and the user's text
fills its question (avqa) or expression (ref_avs); a text the task does not ask for is left out, with a note.
Without a task, the text is a free-form question. A system message other than the default is kept in the
record (``meta["system_prompt"]``) and rendered in place of the default one.
"""

from __future__ import annotations

from typing import Any

from crabplus.schema.registry import FREE_QUESTION_DATASET, SYSTEM_PROMPT, get_spec
from crabplus.utils.errors import CrabplusError

MEDIA_TYPES = ("video", "image", "audio")


class MessagesError(CrabplusError, ValueError):
    """The messages are not in the accepted chat format; the message names the field (``messages[1].content``).
    ``flag``: the command-line flag at fault (as :class:`crabplus.infer.single.PredictInputError`)."""

    exit_code = 2

    def __init__(self, message: str, *, flag: str | None = "--messages"):
        super().__init__(message)
        self.flag = flag


def _path(item: dict, kind: str, where: str) -> str:
    value = item.get(kind)
    if not isinstance(value, str) or not value.strip():
        raise MessagesError(f"{where}: a {kind} item needs '{kind}': the file's path")
    if value.startswith(("http://", "https://")):
        raise MessagesError(f"{where}: {value!r} is a URL; nothing is downloaded, give a local file")
    return value.removeprefix("file://")


def _contents(message: dict, where: str) -> list[dict]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not all(isinstance(c, dict) for c in content):
        raise MessagesError(f"{where}.content: a string or a list of {{'type': ...}} items")
    return content


def parse_messages(messages: Any) -> dict[str, Any]:
    """``{"video": [...], "image": [...], "audio": [...], "text": str, "system": str | None}`` of one system and
    one user turn; anything else is a MessagesError naming the message and field."""
    if not isinstance(messages, list) or not messages:
        raise MessagesError("messages: a non-empty list of {'role': ..., 'content': ...} objects")
    out: dict[str, Any] = {"video": [], "image": [], "audio": [], "text": [], "system": None}
    users = 0
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise MessagesError(f"{where}: an object with 'role' and 'content'")
        role = message.get("role")
        items = _contents(message, where)
        if role == "system":
            out["system"] = " ".join(str(c.get("text", "")) for c in items if c.get("type") == "text").strip()
            continue
        if role != "user":
            raise MessagesError(
                f"{where}.role: {role!r}; one question is answered at a time: give a 'system' "
                "message (optional) and one 'user' message"
            )
        users += 1
        if users > 1:
            raise MessagesError(f"{where}: a second 'user' message; put every item of the question in one")
        for j, item in enumerate(items):
            kind = item.get("type")
            if kind == "text":
                text = item.get("text")
                if not isinstance(text, str):
                    raise MessagesError(f"{where}.content[{j}].text: a string")
                out["text"].append(text)
            elif kind in MEDIA_TYPES:
                out[kind].append(_path(item, kind, f"{where}.content[{j}]"))
            else:
                raise MessagesError(f"{where}.content[{j}].type: {kind!r}; expected text, video, image or audio")
    if users == 0:
        raise MessagesError("messages: no 'user' message")
    out["text"] = " ".join(t.strip() for t in out["text"] if t.strip())
    return out


def messages_arguments(
    messages: Any, task: str | None = None, options: list[str] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The keyword arguments of :func:`crabplus.infer.single.predict` that ask what ``messages`` ask, and the
    notes to add to its answer."""
    parts = parse_messages(messages)
    visuals = parts["video"] + parts["image"]
    if not visuals:
        raise MessagesError("messages: the user message holds no video or image item")
    if len(parts["image"]) > 1 or (parts["image"] and parts["video"]):
        raise MessagesError("messages: one image, or one or two videos (a2v), per question")
    notes: list[str] = []
    text = parts["text"] or None
    if task is None:
        if text is None:
            raise MessagesError("messages: no task named and no text: name a task (--task) or ask a question")
        task = FREE_QUESTION_DATASET
    try:
        spec = get_spec(task)
    except KeyError as exc:
        raise MessagesError(str(exc.args[0]), flag="--task") from None
    args: dict[str, Any] = {"task": task, "video": visuals[0], "options": options}
    videos, audios = parts["video"], parts["audio"]
    if len(videos) > (2 if spec.visual == "two_videos" else 1):
        raise MessagesError(
            f"messages: {len(videos)} videos; task {task!r} takes {2 if spec.visual == 'two_videos' else 1}"
        )
    if len(audios) > (2 if spec.two_audios else 1):
        raise MessagesError(f"messages: {len(audios)} audio items; task {task!r} takes {2 if spec.two_audios else 1}")
    args["video2"] = videos[1] if len(videos) > 1 else None
    args["audio"] = audios[0] if audios else None
    args["audio2"] = audios[1] if len(audios) > 1 else None
    if "{question}" in spec.instruction:
        args["question"] = text
    elif "{expression}" in spec.instruction:
        args["expression"] = text
    elif text is not None:
        notes.append(f"task {task!r} asks its own instruction; the message's text was not asked")
    if parts["system"] and parts["system"] != SYSTEM_PROMPT:
        args["system_prompt"] = parts["system"]
    return args, notes
