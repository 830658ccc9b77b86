# The README's two commands: `make demo` (the main job on the embedded default) and `make test`.
# Both create .venv at the repository root when it is missing and install what they need.
.PHONY: demo test test-unit test-integration test-slow lint setup test-tools bench

PY := .venv/bin/python

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) -m crabplus demo $(ARGS)

test-tools: setup
	@bash scripts/test_tools.sh

# test = unit + integration (pyproject's addopts leave out slow and gpu); test-unit: the fast tier alone.
test: test-tools
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest -q $(ARGS)

test-unit: setup
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest -q -m unit $(ARGS)

test-integration: test-tools
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest -q -m "integration and not slow and not gpu" $(ARGS)

test-slow: test-tools
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest -q -m slow $(ARGS)

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
