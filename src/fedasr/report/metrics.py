"""Load run directories for reports: metrics.jsonl parsed line by line, config.yaml kept as text.

Pure functions over the records (no plotting here) so benchmarks and docs can reuse them:
`load_run`, `metric_value`, `series`, `rounds_to_reach`, `werr`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from fedasr.errors import FedasrError

Record = dict[str, Any]


class ReportError(FedasrError):
    """A run directory or its metrics cannot be read; the message names the file (and line)."""


class Point(NamedTuple):
    """One value of a metric at a round (or, for a centralized run, an epoch)."""

    step: int
    value: float


@dataclass
class Run:
    """One run directory as a report sees it."""

    path: Path
    label: str
    records: list[Record]
    config_text: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def centralized(self) -> bool:
        """Centralized baselines log epochs; federated runs log rounds."""
        return bool(self.records) and "round" not in self.records[0] and "epoch" in self.records[0]

    @property
    def step_name(self) -> str:
        return "epoch" if self.centralized else "round"


def load_run(path: str | Path, label: str | None = None) -> Run:
    """Read RUN/metrics.jsonl (required) and RUN/config.yaml (optional)."""
    run_dir = Path(path)
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: no such directory")
    metrics_path = run_dir / "metrics.jsonl"
    if not metrics_path.is_file():
        raise ReportError(
            f"{run_dir}: no metrics.jsonl here; is it a run directory "
            "(written by `fedasr run` or `fedasr train`)?"
        )
    warnings: list[str] = []
    records = load_metrics(metrics_path, warnings)
    config_text, config = _load_config(run_dir / "config.yaml", warnings)
    name = config.get("name")
    default_label = name if isinstance(name, str) and name else run_dir.name
    return Run(run_dir, label or default_label, records, config_text, config, warnings)


def load_metrics(path: Path, warnings: list[str] | None = None) -> list[Record]:
    """Parse metrics.jsonl; a cut last line (a crash mid-write) is skipped with a warning.

    Any other malformed line is an error naming `file:line`: silently dropping rounds in the
    middle of a run would misplace every later point.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise ReportError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from err
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise ReportError(f"{path}: empty; the run has not logged a round yet")
    records: list[Record] = []
    for position, (number, line) in enumerate(numbered):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            if position == len(numbered) - 1:
                if warnings is not None:
                    warnings.append(f"{path}:{number}: skipped a truncated last line ({err.msg})")
                continue
            raise ReportError(f"{path}:{number}: not valid JSON ({err.msg})") from err
        if not isinstance(record, dict):
            kind = type(record).__name__
            raise ReportError(f"{path}:{number}: expected a JSON object, got a {kind}")
        records.append(record)
    if not records:
        raise ReportError(f"{path}: no complete line (the only line is truncated)")
    return _one_record_per_step(records, path, warnings)


def _one_record_per_step(
    records: list[Record], path: Path, warnings: list[str] | None
) -> list[Record]:
    """Key records by round/epoch (position when neither is logged); a repeat keeps the last."""
    by_step: dict[int, Record] = {}
    for position, record in enumerate(records, start=1):
        step = record_step(record, position)
        if step in by_step and warnings is not None:
            warnings.append(f"{path}: step {step} logged twice; the later line is used")
        by_step[step] = record
    ordered = []
    for step in sorted(by_step):
        record = by_step[step]
        if "round" not in record and "epoch" not in record:
            record = {**record, "round": step}
        ordered.append(record)
    return ordered


def record_step(record: Record, position: int = 0) -> int:
    """The round (federated) or epoch (centralized) a record belongs to."""
    for key in ("round", "epoch"):
        value = record.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return position


def _load_config(path: Path, warnings: list[str]) -> tuple[str | None, dict[str, Any]]:
    if not path.is_file():
        warnings.append(f"{path.parent}: no config.yaml")
        return None, {}
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as err:
        warnings.append(f"{path}: not valid YAML ({err}); shown as text only")
        return text, {}
    return text, parsed if isinstance(parsed, dict) else {}


# ------------------------------------------------------------------------------- pure queries
def metric_value(record: Record, key: str) -> float | None:
    """A finite number at `key` ("cumulative.flops" walks nested dicts), else None."""
    value: Any = record
    for part in key.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def series(records: Iterable[Record], key: str) -> list[Point]:
    """(step, value) for every record that logs `key`; records without it are left out."""
    points = []
    for position, record in enumerate(records, start=1):
        value = metric_value(record, key)
        if value is not None:
            points.append(Point(record_step(record, position), value))
    return points


def xy_series(records: Iterable[Record], x_key: str, y_key: str) -> list[tuple[float, float]]:
    """(x, y) pairs, e.g. cumulative bytes against held-out WER, where a record logs both."""
    pairs = []
    for record in records:
        x, y = metric_value(record, x_key), metric_value(record, y_key)
        if x is not None and y is not None:
            pairs.append((x, y))
    return pairs


def best_point(records: Sequence[Record], key: str) -> Point | None:
    """The lowest value (WER, loss: lower is better); the earliest step on ties."""
    points = series(records, key)
    return min(points, key=lambda p: (p.value, p.step)) if points else None


def final_point(records: Sequence[Record], key: str) -> Point | None:
    """The last logged value (the final evaluation)."""
    points = series(records, key)
    return points[-1] if points else None


def reach_record(records: Sequence[Record], key: str, target: float) -> Record | None:
    """The first record whose `key` is at or below `target` (lower is better)."""
    for record in records:
        value = metric_value(record, key)
        # a hair of tolerance: the target often is another run's float of the same count ratio
        if value is not None and value <= target + 1e-12:
            return record
    return None


def rounds_to_reach(metrics: Sequence[Record], key: str, target: float) -> int | None:
    """Rounds (epochs, centrally) until `key` first reaches `target`; None if it never does."""
    record = reach_record(metrics, key, target)
    return None if record is None else record_step(record, metrics.index(record) + 1)


def werr(base: float | None, new: float | None) -> float | None:
    """Relative WER reduction (WER_base − WER_new) / WER_base; None where undefined."""
    if base is None or new is None or base <= 0:
        return None
    return (base - new) / base


def speedup(base_rounds: int | None, new_rounds: int | None) -> float | None:
    """Baseline rounds ÷ the run's rounds to reach the same WER; None if either never does."""
    if not base_rounds or not new_rounds:
        return None
    return base_rounds / new_rounds


def metric_keys(runs: Iterable[Run]) -> list[str]:
    """Every top-level numeric key some run logs, for error messages and discovery."""
    keys = {
        key
        for run in runs
        for record in run.records
        for key in record
        if metric_value(record, key) is not None
    }
    return sorted(keys)
