.PHONY: setup dev test lint

setup:
	bash scripts/setup.sh

dev:
	bash scripts/setup.sh --dev

lint:
	.venv/bin/ruff check .

test: lint
	.venv/bin/pytest
