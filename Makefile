# fedasr: `make demo` runs the main job, `make test` runs the test suite. Both install first.
PY ?= python3
PIP := $(PY) -m pip
EXTRAS ?= dev,ray,privacy

.PHONY: install install-system demo test lint fixtures bench

install-system:
	bash scripts/install-system-deps.sh

# constraints.txt pins torch==2.13.0 so no dependency can swap in a CUDA build.
install: install-system
	$(PIP) install -q -c constraints.txt -e '.[$(EXTRAS)]'

demo: install
	$(PY) -m fedasr demo

test: install
	$(PY) -m pytest

# mypy checks src/fedasr, benchmarks/ and scripts/ (pyproject.toml); bash -n the shell scripts.
lint:
	ruff check src tests benchmarks scripts
	ruff format --check src tests benchmarks scripts
	mypy
	for script in scripts/*.sh; do bash -n "$$script" || exit 1; done
