# `make run` and `make test` set everything up on a fresh machine.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON_VERSION := $(shell cat .python-version)

# The interpreter .python-version names: pyenv's if it has it, else a
# python3.12+ on PATH.
BOOTSTRAP_PYTHON := $(shell \
	for candidate in "$$(pyenv root 2>/dev/null)/versions/$(PYTHON_VERSION)/bin/python3" python3.13 python3.12 python3; do \
		if command -v "$$candidate" >/dev/null 2>&1 && "$$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
			command -v "$$candidate"; break; \
		fi; \
	done)

.PHONY: run test bench mutate lint migrate messages clean

$(BIN)/python:
	@test -n "$(BOOTSTRAP_PYTHON)" || { echo "Python 3.12 or newer is needed (see .python-version)"; exit 1; }
	$(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# The command-line client, installed as its users install it; tests/test_cli*.py run the installed command.
CLIENT_SOURCES := client/pyproject.toml $(wildcard client/tgrelay/*.py)

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime $(CLIENT_SOURCES)
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet ./client
	touch $@

migrate: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python -m config.run

test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null
	$(BIN)/pytest

$(VENV)/.bench: requirements-bench.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $@

# Measure the production layout and rewrite the tables in docs/benchmarks.md, then history
# at scale and its chart (about 20 minutes; not part of `make test`). Needs wrk and curl, installed
# from Debian if missing, and PostgreSQL and Redis on 127.0.0.1 for the second backend
# (BENCH_BACKENDS=sqlite skips it).
bench: $(VENV)/.bench
	@command -v wrk >/dev/null && command -v curl >/dev/null || { $$(test "$$(id -u)" = 0 || echo sudo) apt-get update -qq && \
		$$(test "$$(id -u)" = 0 || echo sudo) apt-get install -y -qq wrk curl >/dev/null; }
	$(BIN)/python -m bench.run --backends "$${BENCH_BACKENDS:-sqlite,postgres}"
	$(BIN)/python -m bench.history --backends "$${BENCH_BACKENDS:-sqlite,postgres}"

# Mutation testing of relay/splitting.py, relay/pacing.py, relay/delivery.py and
# accounts/throttling.py, each against the tests that concern it (not part of
# `make test`; about 80 minutes on two cores). docs/mutation.md has the scores.
mutate: $(VENV)/.dev
	$(BIN)/python tools/mutate.py

lint: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Refresh the cabinet's Russian catalogue after changing its texts, then translate and compile it
# (needs gettext); both the .po and the compiled .mo are committed, so nothing else needs gettext.
messages: $(VENV)/.runtime
	cd cabinet && ../$(BIN)/python ../manage.py makemessages -l ru --no-obsolete --no-location
	$(BIN)/python manage.py compilemessages --ignore=.venv --ignore=var --ignore=mutants

clean:
	rm -rf $(VENV)
