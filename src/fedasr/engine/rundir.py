"""A run directory: resolved config, metrics.jsonl, TensorBoard events, checkpoints, report.

RUN/config.yaml      the fully resolved config (loads back to the same experiment)
RUN/metrics.jsonl    one JSON object per round (or epoch), flushed as it is written
RUN/tb/              TensorBoard events (scalars of every numeric metric)
RUN/checkpoints/     see checkpoint.py
RUN/tokenizer/       the run's tokenizer
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from fedasr.config import ExperimentConfig
from fedasr.errors import ConfigError


class RunDir:
    def __init__(self, path: str | Path, config: ExperimentConfig, *, resume: bool = False) -> None:
        self.path = Path(path)
        if not resume and (self.path / "metrics.jsonl").exists():
            raise ConfigError(
                f"run_dir: {self.path} already holds a run; continue it with "
                f"`fedasr run --resume {self.path}` or choose another run_dir"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "config.yaml").write_text(config.to_yaml())
        self._tb: Any = None
        self._tb_enabled = config.logging.tensorboard

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def tokenizer_dir(self) -> Path:
        return self.path / "tokenizer"

    def log(self, record: dict[str, Any], step: int) -> None:
        """Append one metrics line (fsync'd: a crash loses at most the line in flight)."""
        with self.metrics_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(_plain(record)) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self._tensorboard(record, step)

    def truncate_metrics(self, keep_while: Any) -> None:
        """On resume: drop metric lines past the checkpoint (they will be recomputed)."""
        if not self.metrics_path.exists():
            return
        lines = self.metrics_path.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if line.strip() and keep_while(json.loads(line))]
        self.metrics_path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")

    def _tensorboard(self, record: dict[str, Any], step: int) -> None:
        if not self._tb_enabled:
            return
        if self._tb is None:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.path / "tb"))
        for key, value in _flatten(record).items():
            if (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
            ):
                self._tb.add_scalar(key, value, step)
        self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    metrics = Path(path)
    if metrics.is_dir():
        metrics = metrics / "metrics.jsonl"
    return [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "/"))
        else:
            flat[name] = value
    return flat


def _plain(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
