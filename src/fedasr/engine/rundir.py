"""A run directory: resolved config, metrics.jsonl, TensorBoard events, checkpoints, report.

RUN/config.yaml      the fully resolved config (loads back to the same experiment)
RUN/metrics.jsonl    one JSON object per round (or epoch), fsync'd as it is written
RUN/run.lock         held while a run writes here (engine/runlock.py)
RUN/tb/              TensorBoard events (scalars of every numeric metric)
RUN/checkpoints/     see checkpoint.py
RUN/tokenizer/       the run's tokenizer
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from fedasr.config import ExperimentConfig
from fedasr.engine.runlock import RunLock
from fedasr.errors import ConfigError, ManifestError
from fedasr.fsutil import append_line, atomic_write_text

log = logging.getLogger(__name__)


class RunDir:
    """An open run directory: locked (engine/runlock.py) from here until `close()`."""

    def __init__(
        self,
        path: str | Path,
        config: ExperimentConfig,
        *,
        resume: bool = False,
        lock: RunLock | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.lock = lock if lock is not None and lock.held else RunLock.acquire(self.path)
        if not resume and (self.path / "metrics.jsonl").exists():
            self.lock.release()
            raise ConfigError(
                f"run_dir: {self.path} already holds a run; continue it with "
                f"`fedasr run --resume {self.path}` or choose another run_dir"
            )
        atomic_write_text(self.path / "config.yaml", config.to_yaml())
        self._tb: Any = None
        self._tb_enabled = config.logging.tensorboard
        self._tb_purge_step: int | None = None

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
        """Append one metrics line (fsync'd: a crash loses at most the line in flight, and a
        reader drops it if it was left torn)."""
        append_line(self.metrics_path, json.dumps(_plain(record)))
        self._tensorboard(record, step)

    def truncate_after(self, last_round: int) -> None:
        """On resume from `last_round`'s checkpoint: drop metric lines past it (they will be
        recomputed) and a torn last line, replacing the file atomically; TensorBoard is told
        to purge its events past it too, so no curve shows a round twice."""
        self._tb_purge_step = last_round + 1
        if not self.metrics_path.exists():
            return
        lines = metric_lines(self.metrics_path)
        kept = [text for text, record in lines if record.get("round", 0) <= last_round]
        atomic_write_text(self.metrics_path, "".join(text + "\n" for text in kept))

    def _tensorboard(self, record: dict[str, Any], step: int) -> None:
        if not self._tb_enabled:
            return
        if self._tb is None:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.path / "tb"), purge_step=self._tb_purge_step)
        for key, value in _flatten(record).items():
            if (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
            ):
                self._tb.add_scalar(key, value, step)
        self._tb.flush()

    def close(self) -> None:
        """Flush TensorBoard and release the run directory's lock."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        self.lock.release()


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    metrics = Path(path)
    if metrics.is_dir():
        metrics = metrics / "metrics.jsonl"
    return [record for _, record in metric_lines(metrics)]


def metric_lines(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(line, record) for every line of a metrics file. A torn last line — the process died
    while appending it — is dropped with a warning; any other unreadable line is an error
    naming the file and line."""
    lines = path.read_text(encoding="utf-8").split("\n")
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    parsed = []
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            parsed.append((line, json.loads(line)))
        except json.JSONDecodeError as err:
            if index == last:
                log.warning("%s:%d: dropped a torn last line (a crash mid-write)", path, index + 1)
                continue
            raise ManifestError(path, index + 1, f"not a JSON metrics record ({err})") from None
    return parsed


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
