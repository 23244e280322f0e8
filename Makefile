# One task runner. Everything installs from a bare Python into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint typecheck pytest install dev bench bench-speed bench-history chaos digest-sample clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

install: $(STAMP)

dev: $(DEV_STAMP)

run: $(STAMP)
	$(BIN)/reviewops serve  # upgrades the database itself, after its senders line

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy
	$(BIN)/lint-imports

# Two processes or more (pytest-xdist): most tests wait on sockets and child processes, so two
# workers on two cores take the suite from about 18 to 9.5 minutes. Each worker has its own
# PostgreSQL database (tests/conftest.py). PYTEST_ARGS adds options, e.g. PYTEST_ARGS="-k chaos".
PYTEST_WORKERS ?= auto
pytest: $(DEV_STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --maxprocesses 4 $(PYTEST_ARGS)

test: lint typecheck pytest

# Black-box speed benchmarks (issue 11: dispatch, Slack acks, webhooks, memory), quick mode:
# a few minutes, under nice. The full run is `$(BIN)/python -m bench.speed --full` (see
# BENCHMARKS.md). `bench-speed` is the same target by its earlier name.
bench bench-speed: $(DEV_STAMP)
	nice -n 19 $(BIN)/python -m bench.speed $(SPEED_ARGS)

# History queries at scale: seeds once (reused while the row count matches), then measures.
# make bench-history BENCH_ARGS="--db postgresql --url postgresql+psycopg://postgres@127.0.0.1:5432/bench_history"
BENCH_ARGS ?= --rows 1000000 --db sqlite
bench-history: $(DEV_STAMP)
	$(BIN)/python -m bench.history $(BENCH_ARGS)

# Fault run (issue 16): `reviewops worker` processes killed (kill -9) and frozen (SIGSTOP)
# while the fake Twilio answers slowly, then a drain and the checks (no duplicate at the
# provider, nothing left in flight, every `unknown` explained, Slack threads whole and in
# order). Full: 2,000 messages on PostgreSQL (3 workers, database chaos_pg) and on one SQLite
# file (2 workers), about half an hour on 2 cores. Its CI size runs in `make test`
# (tests/test_chaos.py); CHAOS_ARGS="--quick" runs that size here. Exits 1 on a problem.
CHAOS_ARGS ?=
chaos: $(DEV_STAMP)
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

# The digest's sample chart (docs/digest-sample.png), drawn from the tests' sample rows.
digest-sample: $(DEV_STAMP)
	$(BIN)/python -m bench.digest_sample docs/digest-sample.png

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
