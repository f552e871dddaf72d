"""scripts/early_exit_tables.py on the synthetic runs of report_runs.py: the per-exit table, the
shape ratios against the paper and centralized training (by hand), unfinished runs listed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from report_runs import central_records, federated_records, write_run

SCRIPT = Path(__file__).parents[2] / "scripts" / "early_exit_tables.py"


def tables(tmp_path: Path, capsys: pytest.CaptureFixture[str], *names: str) -> str:
    spec = importlib.util.spec_from_file_location("early_exit_tables", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = sys.argv
    sys.argv = ["early_exit_tables.py", "--target", "0.6", *(str(tmp_path / n) for n in names)]
    try:
        module.main()
    finally:
        sys.argv = argv
    return capsys.readouterr().out


def test_shape_ratios_and_unfinished_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, records in (("base", federated_records("base")), ("central", central_records())):
        write_run(tmp_path / name, records)
        (tmp_path / name / "model.safetensors").write_bytes(b"")
    write_run(tmp_path / "stopped", federated_records("fast", rounds=3))  # no final model
    out = tables(tmp_path, capsys, "base", "stopped", "central")
    # final held-out WER per exit: base 0.9 / 0.7 / 0.5 (round 6), central 0.8 / 0.5 / 0.3
    assert "| base | 6 | 80.0 | 60.0 | 40.0 | 90.0 | 70.0 | 50.0 |" in out
    # first / last = 90 / 50 = 1.80; vs centralized: 90 / 80 = 1.12 (1.125), 50 / 30 = 1.67
    assert "| base | heldout | 3 | 90.0 | 50.0 | 1.80 | 1.12 | 1.67 |" in out
    assert "| central | heldout | 3 | 80.0 | 30.0 | 2.67 | — | — |" in out
    # the paper's rows: 45.2 / 21.7 = 2.08, 45.2 / 43.8 = 1.03, 21.7 / 14.6 = 1.49
    assert "| 6 | 45.2 | 21.7 | 2.08 | 1.03 | 1.49 |" in out
    # base reaches held-out WER 0.6 at round 4; the stopped run is listed, not tabulated
    assert "| base | 4 |" in out
    assert "| stopped |" not in out and "left out: stopped" in out
