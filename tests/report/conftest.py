"""Fixtures: the three synthetic run directories described in report_runs.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_runs import central_records, federated_records, write_run


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    return {
        "base": write_run(tmp_path / "base", federated_records("base")),
        "fast": write_run(tmp_path / "fast", federated_records("fast")),
        "central": write_run(tmp_path / "central", central_records()),
    }
