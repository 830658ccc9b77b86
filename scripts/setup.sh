#!/usr/bin/env bash
# Creates .venv at the repository root (when missing) and installs crabplus with its pinned
# dependencies. torch==2.13.0 (CPU build) goes in first, so nothing later resolves a CUDA build.
# Quick the second time: a stamp file records the pyproject.toml hash that was installed.
# `scripts/setup.sh web` also installs the web demo's pinned set (requirements/web.txt: Gradio, and Selenium for
# its browser test) with --no-deps, so no pin of crabplus (torch, numpy, av, pillow) moves.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
stamp=.venv/.crabplus-installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing torch==2.13.0 (CPU) and crabplus[dev] into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet "torch==2.13.0"
  .venv/bin/python -m pip install --quiet -e ".[dev]"
  echo "$want" > "$stamp"
fi
for extra in "$@"; do
  file="requirements/$extra.txt"
  [ -f "$file" ] || { echo "[setup] unknown extra '$extra' (no $file)" >&2; exit 2; }
  extra_stamp=".venv/.crabplus-$extra"
  extra_want="$(sha256sum "$file" | cut -d' ' -f1)"
  if [ -f "$extra_stamp" ] && [ "$(cat "$extra_stamp")" = "$extra_want" ]; then
    continue
  fi
  echo "[setup] installing $file (pinned, --no-deps) into .venv"
  .venv/bin/python -m pip install --quiet --no-deps -r "$file"
  echo "$extra_want" > "$extra_stamp"
done
