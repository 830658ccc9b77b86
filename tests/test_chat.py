"""Chat messages (the Qwen2.5-Omni format) in the Python API and on the command line give the answer of the
``--task`` call on the same files: video, audio and image items, two videos for a2v, the system prompt, a
named task's instruction; a malformed message list is one clear error naming the field."""

from __future__ import annotations

import json

import pytest
import torch
from helpers.media import sine, write_clip, write_wav

from crabplus.cli.main import main
from crabplus.infer import Predictor, predict

pytestmark = pytest.mark.integration  # loads a tiny model and decodes through every path
NEW = 5


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from helpers.model import tiny_model_config, tiny_tokenizer

    from crabplus.model import attach_adapter, build_thinker, save_checkpoint

    root = tmp_path_factory.mktemp("chat")
    tok, cfg = tiny_tokenizer(), tiny_model_config()
    torch.manual_seed(0)
    model = attach_adapter(build_thinker(cfg, tok), cfg)
    for name, p in model.named_parameters():  # non-zero adapters: answers that depend on every input
        if ".lora_B" in name:
            torch.nn.init.normal_(p, std=0.5)
    save_checkpoint(root / "model", model, tok, cfg)
    clip = write_clip(root / "a.mp4", seconds=1.0, width=32, height=32, freq=300.0)
    clip2 = write_clip(root / "b.mp4", seconds=1.0, width=32, height=32, freq=900.0)
    sound = write_wav(root / "s.wav", sine(1.0, 16000, freq=600.0), 16000)
    return root, Predictor.from_checkpoint(root / "model"), clip, clip2, sound


def chat(predictor, messages, **kwargs):
    return predict(messages=messages, predictor=predictor, **kwargs)


def user(*items):
    return [{"role": "user", "content": list(items)}]


def video(path):
    return {"type": "video", "video": str(path)}


def test_a_chat_equals_the_task_call(setup):
    _, predictor, clip, clip2, sound = setup
    same = chat(predictor, user(video(clip)), task="ks", max_new_tokens=NEW)
    direct = predict(clip, task="ks", predictor=predictor, max_new_tokens=NEW)
    assert same.text == direct.text and same.prediction.to_json() == direct.prediction.to_json()
    # a2v: the sound and two candidate videos
    matched = chat(
        predictor,
        user(video(clip), video(clip2), {"type": "audio", "audio": str(sound)}),
        task="a2v",
        max_new_tokens=NEW,
    )
    assert (
        matched.text
        == predict(clip, task="a2v", video2=clip2, audio=sound, predictor=predictor, max_new_tokens=NEW).text
    )
    # a named task's question comes from the text; without a task the text is a free question (as --question)
    q = "What instrument plays?"
    assert (
        chat(predictor, user(video(clip), {"type": "text", "text": q}), task="avqa", max_new_tokens=NEW).text
        == predict(clip, task="avqa", question=q, predictor=predictor, max_new_tokens=NEW).text
    )
    free = chat(predictor, user(video(clip), {"type": "text", "text": q}), max_new_tokens=NEW)
    assert free.text == predict(clip, task="avqa", question=q, predictor=predictor, max_new_tokens=NEW).text
    # a text the named task does not ask is left out, and said so
    told = chat(predictor, user(video(clip), {"type": "text", "text": q}), task="ks", max_new_tokens=NEW)
    assert told.text == direct.text and any("was not asked" in n for n in told.prediction.notes)


def test_the_system_prompt_is_the_chats_own(setup):
    from crabplus.data.processor import conversation
    from crabplus.infer.chat import messages_arguments
    from crabplus.infer.single import build_record

    _, predictor, clip, _, _ = setup
    system = [{"role": "system", "content": [{"type": "text", "text": "You answer in one word."}]}]
    args, _ = messages_arguments(system + user(video(clip)), "ks")
    record, _ = build_record(args.pop("task"), args.pop("video"), **{k: v for k, v in args.items() if v})
    assert conversation(record, with_target=False)[0]["content"] == "You answer in one word."
    default = chat(predictor, user(video(clip)), task="ks", max_new_tokens=NEW)
    assert chat(predictor, system + user(video(clip)), task="ks", max_new_tokens=NEW).text != default.text


def test_predict_messages_on_the_command_line_prints_the_task_calls_answer(setup, tmp_path, capsys):
    root, _, clip, _, _ = setup
    messages = tmp_path / "chat.json"
    messages.write_text(json.dumps(user(video(clip))))
    common = ["--task", "ks", "--checkpoint", str(root / "model"), "--max-new-tokens", str(NEW), "--json"]
    assert main(["predict", "--messages", str(messages), *common]) == 0
    chat = json.loads(capsys.readouterr().out)
    assert main(["predict", str(clip), *common]) == 0
    assert chat == json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    "messages,needle",
    [
        ([], "non-empty list"),
        ([{"role": "assistant", "content": "hi"}], "messages[0].role"),
        ([{"role": "user", "content": [{"type": "text", "text": "hi"}]}], "no video or image"),
        ([{"role": "user", "content": [{"type": "video"}]}], "messages[0].content[0]"),
        ([{"role": "user", "content": [{"type": "video", "video": "https://x/y.mp4"}]}], "URL"),
        ([{"role": "user", "content": [{"type": "smell", "smell": "x"}]}], "content[0].type"),
    ],
    ids=["empty", "assistant", "no-media", "no-path", "url", "unknown-type"],
)
def test_bad_messages_are_one_clear_line(setup, tmp_path, capsys, messages, needle):
    root = setup[0]
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(messages))
    code = main(["predict", "--messages", str(path), "--task", "ks", "--checkpoint", str(root / "model")])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and "Traceback" not in err, err
