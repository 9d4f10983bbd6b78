# The two commands README.md gives a new user. .ci/run calls `make test`.
.PHONY: setup demo test lint bench
setup:
	@bash scripts/bootstrap.sh

demo: setup
	.venv/bin/polekit demo

# Lint, type-check, then the whole test suite against a real Mosquitto and PostgreSQL.
test: setup lint
	.venv/bin/python -m pytest -q

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

bench: setup
	.venv/bin/python tests/bench/run_all.py
