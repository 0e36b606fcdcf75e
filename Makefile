# Nexa: `make run` starts everything on a fresh machine; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
SANDBOX_PORT ?= 3000
export DJANGO_DEBUG ?= true

.PHONY: run test lint install bench-changelist clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Nexa needs Python 3.11 or newer: make PYTHON=python3.12 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -qq --upgrade pip
	$(VENV)/bin/pip install -qq -e '.[dev]'
	touch $@

install: $(VENV)/.installed

## run: install, migrate, demo data, then the web server, the worker and (without a Chatwoot) the sandbox, whose
## two WhatsApp numbers (Evolution instances loja-sp, inbox 2, the default, and loja-rio, inbox 3) the demo leads use
# The sandbox's settings are exported before migrate (whose checks would otherwise warn of no webhook secret), and
# the worker starts once the web server answers: the sandbox's webhooks about the demo handoffs find it listening.
run: install
	@pids=""; demo_flags=""; \
	if [ -z "$$($(PY) manage.py shell -v 0 -c 'from django.conf import settings; print(settings.CHATWOOT_BASE_URL)')" ]; then \
		export CHATWOOT_BASE_URL=http://127.0.0.1:$(SANDBOX_PORT) CHATWOOT_ACCOUNT_ID=1 \
			CHATWOOT_API_TOKEN=sandbox-token CHATWOOT_INBOX_ID=2; \
		export CHATWOOT_WEBHOOK_SECRETS=sandbox-webhook-secret; \
		$(PY) -m chatwoot_sandbox --port $(SANDBOX_PORT) --token sandbox-token \
			--evolution-inbox loja-sp=+551140001111 --evolution-inbox loja-rio=+552140002222 --whatsapp-everyone \
			--webhook-url http://$(HOST):$(PORT)/api/v1/webhooks/chatwoot/ \
			--webhook-secret sandbox-webhook-secret \
			--webhook-events conversation_created,conversation_status_changed,conversation_updated,message_created,contact_updated \
			& pids="$$pids $$!"; \
		demo_flags="--fresh-sandbox"; \
		echo "No Chatwoot configured: the Chatwoot sandbox runs at http://127.0.0.1:$(SANDBOX_PORT)/"; \
	fi; \
	trap 'kill $$pids 2>/dev/null; wait' EXIT; \
	$(PY) manage.py migrate --noinput || exit 1; \
	$(PY) manage.py demo_setup $$demo_flags || exit 1; \
	( until $(PY) -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
			http://$(HOST):$(PORT)/healthz 2>/dev/null; do sleep 0.5; done; \
		echo "Nexa: admin http://$(HOST):$(PORT)/admin/  API docs http://$(HOST):$(PORT)/api/docs/"; \
		exec $(PY) manage.py qcluster ) & pids="$$pids $$!"; \
	DJANGO_RUNSERVER_HIDE_WARNING=true $(PY) manage.py runserver $(HOST):$(PORT)

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
