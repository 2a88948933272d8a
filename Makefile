# The two commands: `make run` starts the whole platform on embedded defaults; `make test` runs every test.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
WORKER_CONCURRENCY ?= 2

.PHONY: run test install install-dev tools migrate lint

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel

$(VENV)/.runtime-installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-train.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

install: $(VENV)/.runtime-installed

install-dev: $(VENV)/.dev-installed

# Debian tools the tests drive: Chromium for browser tests, docker-compose to validate docker-compose.yml.
# Installed when we may (root or sudo); otherwise the tests that need them say why they skip.
DEBIAN_TOOLS := chromium docker-compose
tools:
	@missing=$$(for tool in $(DEBIAN_TOOLS); do command -v $$tool >/dev/null || echo $$tool; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null; then sudo=sudo; else \
	    echo "cannot install $$missing here: the tests that need them will be skipped"; exit 0; fi; \
	  $$sudo apt-get update -qq && $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi

migrate: install
	$(PY) manage.py migrate --no-input

run: migrate
	@echo "SkinTrack on http://127.0.0.1:$(PORT)/ (API docs: /api/docs/). Ctrl-C stops web and worker."
	@trap 'kill 0' INT TERM EXIT; \
	$(PY) -m celery -A skintrack worker --beat --queues=celery,analysis --loglevel=INFO --concurrency=$(WORKER_CONCURRENCY) & \
	$(PY) manage.py runserver 0.0.0.0:$(PORT) --noreload & \
	wait -n

test: install-dev tools
	$(PY) -m ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(PY) -m ruff check .
