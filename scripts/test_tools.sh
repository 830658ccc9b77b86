#!/usr/bin/env bash
# What `make test` needs beyond .venv: the web demo's and lmms-eval's pinned sets (scripts/setup.sh web lmms)
# and Debian's headless Chromium + ChromeDriver for the browser test. Quick once they are there; where
# Chromium cannot be installed (not root, no apt-get) the browser test is skipped and says why.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh web lmms
if ! { command -v chromium && command -v chromedriver; } >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing Debian's chromium and chromium-driver (the web demo's browser test)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "[setup] chromium/chromedriver absent and not installable here: the browser test will be skipped" >&2
  fi
fi
