# riskmon: `make demo` runs the main job, `make test` the whole suite. Both bootstrap .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: setup system demo test lint format typecheck unit bench bench-stream clean

setup: $(STAMP)  ## create .venv with riskmon and its dev tools (idempotent)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

# Debian packages the integration tests drive: a real Prometheus and promtool, headless Chromium.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system:  ## install what is missing of prometheus, promtool, chromium and a Chinese font (apt-get, idempotent)
	@missing=""; \
	command -v prometheus >/dev/null || missing="$$missing prometheus"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	fc-list :lang=zh 2>/dev/null | grep -q . || missing="$$missing fonts-wqy-microhei"; \
	if [ -n "$$missing" ]; then \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$(echo $$missing | tr ' ' '\n' | sort -u); \
	fi

demo: setup  ## live: an embedded broker, a worker and simulated orders with every pattern; alerts on screen (Ctrl-C stops)
	$(BIN)/riskmon demo

test: setup system lint typecheck  ## lint, type check, then every test
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: setup
	$(BIN)/mypy schemas detectors streams replay riskmon simulation reports console

unit: setup  ## the fast tests only
	$(BIN)/python -m pytest tests/unit -q

bench: setup  ## replay throughput against validation alone (prints figures)
	$(BIN)/python benchmarks/replay.py

bench-stream: setup  ## Faust workers on the embedded broker: throughput, latency, raw ceiling
	$(BIN)/python benchmarks/stream.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
