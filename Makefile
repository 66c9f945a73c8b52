# The two commands of the README: `make serve` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint test-tools clean

$(STAMP): pyproject.toml requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e . -r requirements-dev.txt
	touch $@

serve: $(STAMP)
	$(BIN)/soute serve $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

# Debian packages for the real-client tests (skopeo, docker.io, containerd, podman).
test-tools:
	scripts/install-test-tools.sh

test: $(STAMP) test-tools lint
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
