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

.PHONY: run test lint migrate clean

$(BIN)/python:
	@test -n "$(BOOTSTRAP_PYTHON)" || { echo "Python 3.12 or newer is needed (see .python-version)"; exit 1; }
	$(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r requirements-dev.txt
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

lint: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV)
