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

lint:
	ruff check src tests benchmarks
	ruff format --check src tests benchmarks
	mypy
