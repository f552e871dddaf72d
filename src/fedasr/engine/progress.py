"""A rich progress display for the round loop: round, clients, loss, last WER, bytes, ETA."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def _megabytes(value: float) -> str:
    return f"{value / 1e6:,.1f} MB"


class RoundProgress:
    def __init__(self, total: int, done: int, enabled: bool = True) -> None:
        self.enabled = enabled
        self.last_wer: str = "-"
        self._progress = Progress(
            TextColumn("round {task.completed}/{task.total}"),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            disable=not enabled,
        )
        self._task = self._progress.add_task("rounds", total=total, completed=done, info="")

    def __enter__(self) -> RoundProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def update(self, record: dict[str, Any]) -> None:
        for key in ("heldout_wer", "test_wer"):
            if record.get(key) is not None:
                self.last_wer = f"{key.split('_')[0]} WER {100 * record[key]:.1f}%"
                break
        clients = record.get("clients", {})
        loss = record.get("train_loss_per_frame")
        info = " | ".join(
            [
                f"clients {clients.get('succeeded', 0)}/{clients.get('sampled', 0)}",
                f"loss {loss:.3f}" if loss is not None else "loss -",
                self.last_wer,
                _megabytes(record.get("cumulative", {}).get("bytes_total", 0)),
            ]
        )
        self._progress.update(self._task, completed=record.get("round", 0), info=info)
