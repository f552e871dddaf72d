"""Install anywhere: `make` uses the venv it runs in, else makes ./.venv from PY (a distribution
Python refuses pip installs, PEP 668), and never replaces an environment it did not make."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAKE_VENV = ROOT / "scripts" / "make-venv.sh"
BASE = os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def _make_n(*args: str) -> str:
    """The commands `make` would run (dry run: nothing is installed or created)."""
    done = subprocess.run(
        ["make", "-n", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def test_make_uses_the_active_venv_else_makes_one() -> None:
    inside = _make_n("test", f"PY={sys.executable}")  # the tests run inside a venv
    assert f"{sys.executable} -m pip install" in inside and "make-venv.sh" not in inside
    outside = _make_n("test", f"PY={BASE}", "VENV=.venv-x")
    assert f'make-venv.sh "{BASE}" ".venv-x"' in outside
    assert ".venv-x/bin/python -m pip install -q -c constraints.txt" in outside
    assert '.venv-x/bin/python -m pytest -m "not lm"' in outside


def _make_venv(py: str, target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(MAKE_VENV), py, str(target)], capture_output=True, text=True, check=False
    )


def test_make_venv_creates_reuses_and_refuses_others(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    made = _make_venv(BASE, venv)
    assert made.returncode == 0, made.stderr
    assert (venv / "bin" / "python").is_file() and "creating" in made.stdout
    again = _make_venv(BASE, venv)
    assert again.returncode == 0 and "creating" not in again.stdout
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    refused = _make_venv(BASE, tmp_path / "notes")
    assert refused.returncode == 1 and "not a virtual environment" in refused.stderr
    assert (tmp_path / "notes" / "keep.txt").read_text() == "mine"
    missing = _make_venv(str(tmp_path / "no-python"), tmp_path / "v2")
    assert missing.returncode == 1 and "cannot run" in missing.stderr


def test_a_venv_of_another_interpreter_is_not_replaced(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"  # a venv of some other Python, as the check sees it
    python.write_text("#!/bin/sh\necho /opt/other-python/bin/python3.11\n")
    python.chmod(0o755)
    other = _make_venv(BASE, venv)
    assert other.returncode == 1 and "was made from /opt/other-python" in other.stderr
    assert python.read_text().startswith("#!/bin/sh")  # left as it was
