# fedasr: `make demo` runs the main job, `make test` runs the test suite. Both install first.
#
# Where things go: Debian packages (TTS engines, libsndfile; Chromium for `make test`) through
# scripts/install-system-deps.sh; the Python package and its dependencies into a virtual
# environment — the one you are in (VIRTUAL_ENV, or PY pointing into one), else ./.venv, made
# from PY. A distribution's own Python refuses `pip install` outside a venv (PEP 668), so
# nothing is ever installed into it. `make test PY=/usr/bin/python3` uses Debian's Python.
PY ?= python3
VENV ?= .venv
LM_VENV ?= .venv-lm
EXTRAS ?= dev,ray,privacy,espeak
NAME ?=

IN_VENV := $(shell $(PY) -c 'import sys; print(int(sys.prefix != sys.base_prefix))' 2>/dev/null)
ifeq ($(IN_VENV),1)
PYTHON := $(PY)
else
PYTHON := $(VENV)/bin/python
endif

.PHONY: install install-system install-test-system venv demo test test-lm check-wheel \
	reproduce lint

install-system:
	bash scripts/install-system-deps.sh

install-test-system:
	bash scripts/install-system-deps.sh --test

# Makes ./.venv from PY unless PY already runs in a venv; refuses a ./.venv made by another
# interpreter rather than deleting it.
venv:
ifneq ($(IN_VENV),1)
	bash scripts/make-venv.sh "$(PY)" "$(VENV)"
endif

# constraints.txt pins torch==2.13.0 so no dependency can swap in a CUDA build.
install: install-system venv
	$(PYTHON) -m pip install -q -c constraints.txt -e '.[$(EXTRAS)]'

demo: install
	$(PYTHON) -m fedasr demo

# The `lm` tests run in their own venv (make test-lm): the extra pins numpy < 2.
test: install install-test-system
	$(PYTHON) -m pytest -m "not lm"

test-lm: install-system
	bash scripts/make-venv.sh "$(PY)" "$(LM_VENV)"
	$(LM_VENV)/bin/python -m pip install -q -c constraints.txt -e '.[dev,lm,privacy]'
	$(LM_VENV)/bin/python -m pytest -m lm

# The built wheel, installed into a new empty venv, runs `fedasr --version` and `demo --help`.
check-wheel: venv
	bash scripts/check-wheel.sh "$(PYTHON)"

# `make reproduce` lists the experiments behind docs/; `make reproduce NAME=x` runs one
# (NAME=all: every one), reusing finished runs, then rebuilds its tables and plots.
reproduce: install
	$(PYTHON) -m fedasr reproduce $(if $(NAME),run $(NAME),list)

# mypy checks src/fedasr, benchmarks/ and scripts/ (pyproject.toml); bash -n the shell scripts.
lint:
	$(PYTHON) -m ruff check src tests benchmarks scripts
	$(PYTHON) -m ruff format --check src tests benchmarks scripts
	$(PYTHON) -m mypy
	for script in scripts/*.sh; do bash -n "$$script" || exit 1; done
