# Everything runs in .venv, created on first use: a fresh machine needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the official Node SDK, for tests/local/test_node_sdk.py (needs node >= 20 and npm)
NODE_SDK := tests/node/node_modules/.package-lock.json

CHROMIUM := /usr/bin/chromium

.PHONY: demo test lint bench install node-sdk browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(NODE_SDK): tests/node/package.json tests/node/package-lock.json
	cd tests/node && npm ci --no-audit --no-fund --silent
	touch $(NODE_SDK)

node-sdk: $(NODE_SDK)

# The dashboard's browser tests drive Debian's Chromium through Playwright (never `playwright install`).
browser:
	@test -x $(CHROMIUM) || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }

demo: $(STAMP)
	$(BIN)/orchestrator demo

test: $(STAMP) $(NODE_SDK) browser
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check orchestrator tests examples bench
	$(BIN)/ruff format --check orchestrator tests examples bench
	$(BIN)/mypy
	# the import layering (pyproject.toml [tool.importlinter], drawn in ARCHITECTURE.md) and no import cycle at all
	$(BIN)/lint-imports --no-logo
	$(BIN)/python .ci/import_cycles.py
	# no module over 300 lines without a reason at its top
	$(BIN)/python .ci/module_sizes.py

bench: $(STAMP)
	$(BIN)/python bench/stream_decode.py
	$(BIN)/python bench/local_platform.py
	$(BIN)/python bench/store.py
	$(BIN)/python bench/supervise.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/node/node_modules
