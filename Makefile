# The two commands: `make run` starts the whole platform on embedded defaults; `make test` runs every test.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
WORKER_CONCURRENCY ?= 1

.PHONY: run test install install-dev browser migrate lint

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

# Browser tests drive Debian's Chromium; install it when we may (root or sudo), else those tests say why they skip.
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is not installed and cannot be installed here: browser tests will be skipped"; fi; }

migrate: install
	$(PY) manage.py migrate --no-input

run: migrate
	@echo "SkinTrack on http://127.0.0.1:$(PORT)/ (API docs: /api/docs/). Ctrl-C stops web and worker."
	@trap 'kill 0' INT TERM EXIT; \
	$(PY) -m celery -A skintrack worker --loglevel=INFO --concurrency=$(WORKER_CONCURRENCY) & \
	$(PY) manage.py runserver 0.0.0.0:$(PORT) --noreload & \
	wait -n

test: install-dev browser
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(PY) -m ruff check .
