# The two commands: `make run` starts the whole platform on embedded defaults; `make test` runs every test.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Loopback only by default; `make run HOST=0.0.0.0` opens the platform to other machines (e.g. a phone) on the network.
HOST ?= 127.0.0.1

.PHONY: run test install install-dev tools lint

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel

$(VENV)/.runtime-installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-train.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

# Installs and migrates, so that a first clinician can be created before the first `make run`.
install: $(VENV)/.runtime-installed
	$(PY) manage.py migrate --no-input

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

# Procfile's processes (web, classifier, analyst, beat) under honcho: Ctrl-C stops them all, and so does any one of
# them exiting. Emailed links point at this address unless SKINTRACK_BASE_URL says otherwise.
run: install
	@echo "SkinTrack on http://$(HOST):$(PORT)/ (API docs: /api/docs/). Ctrl-C stops everything."
	SKINTRACK_BIND=$(HOST) SKINTRACK_BASE_URL=$${SKINTRACK_BASE_URL:-http://127.0.0.1:$(PORT)} PATH="$(abspath $(VENV))/bin:$$PATH" \
	  $(VENV)/bin/honcho start --procfile Procfile --port $(PORT)

test: install-dev tools
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

# Import contracts (pyproject.toml [tool.importlinter]): which package may import which.
lint: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
