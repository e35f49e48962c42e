# riskmon: `make demo` runs the main job, `make test` the whole suite. Both bootstrap .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# requirements.lock: what riskmon needs to run (the image installs it); requirements-dev.lock:
# that, with the same pins, and the tools of the tests (setup and CI install it).
LOCK     := requirements.lock
DEV_LOCK := requirements-dev.lock
STAMP    := $(VENV)/.installed-$(shell cat $(DEV_LOCK) pyproject.toml | cksum | cut -d' ' -f1)
# every package pinned, with the hashes of all its files (any platform's wheel and the sdist)
COMPILE  := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links --all-build-deps

.PHONY: setup system demo test lint format typecheck unit bench bench-stream clean lock upgrade audit

setup: $(STAMP)  ## create .venv from requirements-dev.lock (hashes checked), riskmon editable (idempotent)

# Exactly the locked files (pip refuses any whose hash differs), then riskmon itself without
# its dependencies or a build environment of pip's own: nothing unlocked is installed.
$(STAMP): $(DEV_LOCK) pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-* && touch $@

lock: setup  ## pin pyproject.toml's dependencies into the two lock files, keeping their pins
	$(COMPILE) --output-file $(LOCK) pyproject.toml
	$(COMPILE) --extra dev --constraint $(LOCK) --output-file $(DEV_LOCK) pyproject.toml

upgrade: setup  ## move every pin to the newest release pyproject.toml allows
	$(COMPILE) --upgrade --output-file $(LOCK) pyproject.toml
	$(COMPILE) --upgrade --extra dev --constraint $(LOCK) --output-file $(DEV_LOCK) pyproject.toml

# --strict: a package that could not be looked up fails the audit (never a silent pass). Not
# part of `make test`: it needs PyPI's per-release JSON API, which this machine's registry
# access does not serve (docs/deployment.md, "Dependencies").
audit: setup  ## known vulnerabilities of every locked package (PyPI's advisory data; strict)
	$(BIN)/pip-audit --strict --require-hashes --disable-pip --vulnerability-service pypi \
		--progress-spinner off -r $(DEV_LOCK)

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

# Two pytest-xdist workers (the machines have 2 cores); tests/conftest.py groups the tests so
# the broker-starting ones never overlap and each session-scoped simulated set is built once.
TEST_WORKERS ?= 2
test: setup system lint typecheck  ## lint, type check, then every test (on TEST_WORKERS workers)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

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
