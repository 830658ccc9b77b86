# The README's two commands: `make demo` (the main job on the embedded default) and `make test`.
# Both create .venv at the repository root when it is missing and install what they need.
.PHONY: demo test test-slow lint setup test-tools bench

PY := .venv/bin/python

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) -m crabplus demo $(ARGS)

test-tools: setup
	@bash scripts/test_tools.sh

test: test-tools
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest -q $(ARGS)

test-slow: test-tools
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest -q -m slow $(ARGS)

lint: setup
	.venv/bin/ruff check .
