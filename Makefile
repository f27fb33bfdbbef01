# The two commands a newcomer needs: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test test-faults lint format install install-dev migrate bench soak clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(RUN_STAMP)

install: $(RUN_STAMP)
install-dev: $(DEV_STAMP)

## Web UI, OCPI API, a Celery worker and beat on SQLite and the embedded broker, with demo data.
run: $(RUN_STAMP)
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py dev_bootstrap --port $${PORT:-8000}
	DEBUG=$${DEBUG:-true} PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -f Procfile.dev start

## The whole test suite but the slow tests; uses Postgres/Redis when DATABASE_URL /
## CELERY_BROKER_URL are set.
test: $(DEV_STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)  # pyproject leaves out the slow tests

## The slow fault tests: Celery workers killed, the broker and PostgreSQL restarted, on private
## servers of their own (redis-server and PostgreSQL's initdb/pg_ctl must be installed).
test-faults: $(DEV_STAMP)
	$(BIN)/pytest -m slow tests/faults $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	SECRET_KEY=$${SECRET_KEY:-lint-only-not-a-secret} $(BIN)/mypy .  # the Django plugin loads settings

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: $(RUN_STAMP)
	$(BIN)/python manage.py migrate

## Every benchmark in bench/ at quick size; `make bench FULL=1` at full size (see BENCHMARKS.md).
BENCH_SCRIPTS := pull_locations pricing_engine export_cdrs push_fanout authorize mixed_traffic pull_tokens
# Scripts whose default size is their full one take these arguments for the quick size.
BENCH_QUICK_pricing_engine := --quick
BENCH_QUICK_authorize := --tokens 100000 --decisions 20000
bench: $(DEV_STAMP)
	@set -e; for name in $(BENCH_SCRIPTS); do \
	  script=bench/$$name.py; \
	  [ -f $$script ] || { echo "== $$script: not there, skipped"; continue; }; \
	  if [ -n "$(FULL)" ]; then \
	    if grep -q -- '"--full"' $$script; then args=--full; else args=; fi; \
	  else \
	    case $$name in \
	      pricing_engine) args="$(BENCH_QUICK_pricing_engine)";; \
	      authorize) args="$(BENCH_QUICK_authorize)";; \
	      *) args=;; \
	    esac; \
	  fi; \
	  echo "== $$script $$args"; \
	  $(BIN)/python $$script $$args; \
	done

## 30 minutes of simulated chargers and partner traffic against gunicorn, Celery worker and beat
## (Postgres and Redis as for the benchmarks); `make soak SOAK_ARGS=--quick` for 4 minutes.
soak: $(DEV_STAMP)
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf var/cpms.sqlite3* var/broker
