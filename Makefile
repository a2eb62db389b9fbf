# Two entry points for a fresh machine (see README): `make demo` and `make test`.
# Each does all of its own set-up; running it again only redoes what changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo serve test lint browser-deps bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

# The chat page (/chat) serves Web Chat's bundle from node_modules: npm installs it.
demo: $(STAMP) node_modules/.package-lock.json
	$(BIN)/myreview demo

serve: $(STAMP) node_modules/.package-lock.json
	$(BIN)/myreview serve

# Debian's Chromium, an emoji font (a headless browser has none: the easy path's pictures and
# the screenshots would be empty boxes), the Agents Playground, axe-core and the Direct Line
# client, for the browser tests.
browser-deps: node_modules/.package-lock.json
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null; }

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot dialogs storage

# One worker per core (pytest-xdist): each has its own migrated template database, browser and
# servers on free ports, so tests never share state; `pytest` alone still runs them in order.
test: $(STAMP) browser-deps lint
	$(BIN)/pytest -q -n auto

bench: $(STAMP)
	$(BIN)/python tests/benchmark.py

clean:
	rm -rf $(VENV) node_modules var
