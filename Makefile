# Nexa: `make run` starts everything on a fresh machine; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
export DJANGO_DEBUG ?= true

.PHONY: run test lint install bench-changelist clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Nexa needs Python 3.11 or newer: make PYTHON=python3.12 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

## run: install, migrate, create the demo admin and leads, start the web server and the worker
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_setup
	@echo "Nexa is starting: admin http://$(HOST):$(PORT)/admin/  API docs http://$(HOST):$(PORT)/api/docs/"
	@$(PY) manage.py qcluster & worker=$$!; \
		trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; \
		$(PY) manage.py runserver $(HOST):$(PORT)

## test: the whole suite (SQLite by default; set DATABASE_URL=postgres://... for PostgreSQL)
test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## bench-changelist: admin lead changelist timing (set DATABASE_URL to PostgreSQL; LEADS=100000)
bench-changelist: install
	$(PY) bench/changelist.py --leads $${LEADS:-100000}

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
