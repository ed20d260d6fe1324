.PHONY: setup dev test test-fast lint

setup:
	bash scripts/setup.sh

dev:
	bash scripts/setup.sh --dev

lint:
	.venv/bin/ruff check .

# Every test, the slow ones included (vLLM engines, Chromium, a `chroma run` server, ../shared/eval,
# research/): what .ci/run runs.
test: lint
	.venv/bin/pytest -m "slow or not slow"

# The quick set for development: pytest's default, which leaves out tests marked slow (pyproject.toml).
test-fast: lint
	.venv/bin/pytest
