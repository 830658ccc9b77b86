"""Captioning metrics through pycocoevalcap (benchmarks.md §9): BLEU-4, METEOR, ROUGE-L, CIDEr-D.

We call the coco-caption scorers the captioning papers use rather than re-implementing them:
corpus-level BLEU, METEOR 1.5 (a Java jar shipped in the pycocoevalcap wheel), sentence ROUGE-L
(beta 1.2) averaged over items, and CIDEr-D whose IDF comes from the references being scored. Text
is first tokenised by the PTB tokenizer (Stanford CoreNLP jar, also Java), which lower-cases and
drops punctuation tokens.

Line separators. The jar tokenises one caption per line and splits lines on ``\r``, U+2028, U+2029,
U+0085 and friends as well as ``\n``, so a caption holding one of them becomes several lines and every
later caption is paired with the wrong tokens (pycocoevalcap itself only removes ``\n``; the scores then
shift silently, CIDEr by up to 2.35 in our comparison). We replace every character ``str.splitlines``
breaks on with a space in predictions and references before anything else — a deliberate difference
from the official code, which is broken on such text.

Everything runs offline. When Java is missing or a jar fails, the tokenizer falls back to a
lower-case/punctuation split and METEOR is skipped; each fallback appends a note to ``notes`` so a
report can say so. METEOR's start-up (loading its paraphrase table) takes seconds, hence the
``meteor`` switch, and one METEOR process is kept and reused until the program ends.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

METEOR_TIMEOUT_S = 600.0
PTB_TIMEOUT_S = 600.0
_TOKEN_CACHE: dict[str, str] = {}  # text -> PTB-tokenised text
_TOKEN_CACHE_MAX = 200_000
_METEOR: list = []  # the running pycocoevalcap Meteor scorer, shared by all calls
_METEOR_ATEXIT: list = []
_METEOR_LOCK = threading.Lock()
_PTB_PUNCT = {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"}


# every character str.splitlines() breaks a line on (a superset of the ones the PTB tokenizer splits on)
_LINE_BREAKS = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` with every line-separator character replaced by a space (see the module docstring)."""
    return _LINE_BREAKS.sub(" ", text)


def _fallback_tokenize(text: str) -> str:
    """Lower-case, split words from punctuation, drop punctuation tokens (PTB-tokenizer-like)."""
    tokens = re.findall(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]", text.lower())
    return " ".join(t for t in tokens if t not in _PTB_PUNCT and re.search(r"[a-z0-9]", t))


def _note(notes: list[str], text: str) -> None:
    if text not in notes:
        notes.append(text)


def _run_ptb_jar(texts: list[str]) -> list[str]:
    """The coco-caption PTB tokenisation of ``texts`` (one line each), through the jar in the wheel.

    pycocoevalcap's ``PTBTokenizer.tokenize`` runs exactly this command, but writes its temporary
    file into the installed package folder (which fails on a read-only install) and lets Java's
    progress line through to stderr; we run the same jar with the same options and punctuation
    filter, with the file in the system temporary folder and stderr captured.
    """
    from pycocoevalcap.tokenizer import ptbtokenizer as ptb

    jar = Path(ptb.__file__).with_name(ptb.STANFORD_CORENLP_3_4_1_JAR)
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(t.replace("\n", " ") for t in texts).encode("utf-8"))
        name = handle.name
    try:
        proc = subprocess.run(
            [
                "java",
                "-cp",
                str(jar),
                "edu.stanford.nlp.process.PTBTokenizer",
                "-preserveLines",
                "-lowerCase",
                "-encoding",
                "utf-8",
                name,
            ],
            capture_output=True,
            timeout=PTB_TIMEOUT_S,
        )
    finally:
        os.unlink(name)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode("utf-8", "replace").strip()[-300:] or f"exit code {proc.returncode}")
    lines = proc.stdout.decode("utf-8").split("\n")
    if len(lines) < len(texts):
        raise RuntimeError(f"the tokenizer returned {len(lines)} lines for {len(texts)} texts")
    return [" ".join(w for w in line.rstrip().split(" ") if w not in ptb.PUNCTUATIONS) for line in lines[: len(texts)]]


def _ptb(texts: list[str], notes: list[str]) -> dict[str, str]:
    """PTB-tokenise distinct non-empty ``texts`` in one JVM call (empty lines would be dropped by the jar)."""
    if not texts:
        return {}
    if shutil.which("java"):
        try:
            return dict(zip(texts, _run_ptb_jar(texts)))
        except Exception as exc:  # a Java or jar failure must not end the evaluation
            _note(notes, f"PTB tokenizer failed ({type(exc).__name__}: {exc}); used a plain lower-case split")
    else:
        _note(notes, "Java not found: PTB tokenizer replaced by a plain lower-case split; METEOR skipped")
    return {t: _fallback_tokenize(t) for t in texts}


def _tokenize(captions: dict[int, list[str]], notes: list[str]) -> dict[int, list[str]]:
    """``{id: [text, …]}`` tokenised; texts seen before (e.g. references scored again for another
    subset or the chance baseline) come from a small cache instead of another JVM start."""
    todo = sorted({c for v in captions.values() for c in v if c.strip() and c not in _TOKEN_CACHE})
    fresh = _ptb(todo, notes)
    if len(_TOKEN_CACHE) + len(fresh) > _TOKEN_CACHE_MAX:
        _TOKEN_CACHE.clear()
    _TOKEN_CACHE.update(fresh)
    return {k: [(_TOKEN_CACHE.get(c) or fresh.get(c, "")) if c.strip() else "" for c in v] for k, v in captions.items()}


def _stop_meteor() -> None:
    """Kill the shared METEOR process (at exit, or after a failure)."""
    for scorer in _METEOR:
        with contextlib.suppress(Exception):
            scorer.meteor_p.kill()
        # a failed compute_score leaves its lock held, and Meteor.__del__ would then wait on it forever
        scorer.lock = threading.Lock()
    _METEOR.clear()


def _meteor_scorer():
    """The shared METEOR process: started once (loading its paraphrase table takes seconds), reused by
    every later call (a report scores ours, the release's subset and chance), stopped at exit."""
    if _METEOR and _METEOR[0].meteor_p.poll() is None:
        return _METEOR[0]
    _stop_meteor()
    from pycocoevalcap.meteor.meteor import Meteor

    scorer = Meteor()
    _METEOR.append(scorer)
    if not _METEOR_ATEXIT:
        atexit.register(_stop_meteor)
        _METEOR_ATEXIT.append(True)
    return scorer


def _meteor(gts: dict[int, list[str]], res: dict[int, list[str]], notes: list[str]) -> float | None:
    if not shutil.which("java"):
        return None
    result: dict[str, float] = {}
    error: list[BaseException] = []

    def run() -> None:
        try:
            result["score"] = float(_meteor_scorer().compute_score(gts, res)[0])
        except BaseException as exc:  # noqa: BLE001 - reported as a note below
            error.append(exc)

    with _METEOR_LOCK:
        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(METEOR_TIMEOUT_S)
        if worker.is_alive() or error or "score" not in result:
            _stop_meteor()
    if worker.is_alive():
        _note(notes, f"METEOR did not answer within {METEOR_TIMEOUT_S:.0f} s and was skipped")
        return None
    if error or "score" not in result:
        exc = error[0] if error else RuntimeError("no score")
        _note(notes, f"METEOR failed ({type(exc).__name__}: {exc}) and was skipped")
        return None
    return result["score"]


def caption_scores(
    predictions: Sequence[str | None],
    references: Sequence[Sequence[str]],
    *,
    meteor: bool = True,
    notes: list[str] | None = None,
) -> dict[str, float]:
    """``{"bleu4", "meteor", "rouge_l", "cider"}`` (coco-caption scale, 0..1; CIDEr 0..10).

    ``predictions[i]`` is scored against all of ``references[i]``; a missing prediction (None) is
    scored as an empty caption. ``meteor=False`` (or a METEOR failure, noted in ``notes``) leaves
    the ``meteor`` key out.
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    notes = [] if notes is None else notes
    if len(predictions) != len(references):
        raise ValueError(f"caption_scores: {len(predictions)} predictions but {len(references)} reference lists")
    if not predictions:
        raise ValueError("caption_scores: no samples")
    for i, refs in enumerate(references):
        if not refs or not all(isinstance(r, str) and r.strip() for r in refs):
            raise ValueError(f"caption_scores: item {i} needs at least one non-empty reference")
    gts = _tokenize({i: [one_line(r) for r in refs] for i, refs in enumerate(references)}, notes)
    res = _tokenize({i: [one_line(p or "")] for i, p in enumerate(predictions)}, notes)
    with contextlib.redirect_stdout(io.StringIO()):  # the BLEU scorer prints its counts
        bleu = Bleu(4).compute_score(gts, res)[0][3]
    scores = {"bleu4": float(bleu)}
    if meteor:
        value = _meteor(gts, res, notes)
        if value is not None:
            scores["meteor"] = value
    scores["rouge_l"] = float(Rouge().compute_score(gts, res)[0])
    scores["cider"] = float(Cider().compute_score(gts, res)[0])
    return scores
