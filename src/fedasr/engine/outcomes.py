"""What happened to each client and each round, counted so the numbers add up.

Every client run ends in exactly one outcome: it succeeded, or it failed in one of four ways —
`error` (it raised), `crash` (its worker process died), `timeout` (past `client.timeout_s`)
or `nonfinite` (a non-finite loss or update). A round's record counts them over all its
attempts: sampled = succeeded + failed + timed_out + non_finite, where `failed` is errors
plus crashes. A run in which no round aggregated anything ends with RunFailedError.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fedasr.algorithms.base import ClientReport
from fedasr.algorithms.context import ClientFailure
from fedasr.errors import FedasrError

if TYPE_CHECKING:
    from fedasr.config import RoundsSection

FAILURE_KINDS = ("error", "crash", "timeout", "nonfinite")
FAILURE_LIMIT = 50  # failure entries kept per round record (the counts are always complete)


class ClientTimedOut(ClientFailure):
    """A client ran past `client.timeout_s` (stopped between steps or by the watchdog)."""


class NonFiniteUpdate(ClientFailure):
    """A client's loss or update is not finite."""


class WorkerCrashed(FedasrError):
    """The process running a client died (or, on the serial executor, a simulated kill)."""


class RunFailedError(FedasrError):
    """The run trained nothing: no round aggregated a single client update."""

    exit_code = 3


def failure_kind(err: BaseException) -> str:
    """The outcome of a client that raised `err`."""
    if isinstance(err, ClientTimedOut):
        return "timeout"
    if isinstance(err, NonFiniteUpdate):
        return "nonfinite"
    if isinstance(err, WorkerCrashed):
        return "crash"
    return "error"


def report_kind(report: ClientReport) -> str:
    """`ok` or one of FAILURE_KINDS. Reports an algorithm's `accumulate` rejected carry no
    kind; they are non-finite updates or weights (see algorithms/fedavg.py)."""
    if report.ok:
        return "ok"
    if report.failure in FAILURE_KINDS:
        return report.failure
    return "nonfinite" if "non-finite" in (report.error or "") else "error"


def round_outcome(reports: Sequence[ClientReport]) -> dict[str, int]:
    """Counts over every client run of a round (all attempts); they add up to `sampled`."""
    kinds = [report_kind(report) for report in reports]
    return {
        "sampled": len(kinds),
        "succeeded": kinds.count("ok"),
        "failed": kinds.count("error") + kinds.count("crash"),
        "timed_out": kinds.count("timeout"),
        "non_finite": kinds.count("nonfinite"),
    }


def failure_entries(
    attempts: Sequence[Sequence[ClientReport]], limit: int = FAILURE_LIMIT
) -> list[dict[str, Any]]:
    """One entry per failed client run, in order: client, attempt (1-based), kind, error."""
    entries = [
        {"client": report.client_id, "attempt": number, "kind": report_kind(report),
         "error": report.error}
        for number, reports in enumerate(attempts, start=1)
        for report in reports
        if not report.ok
    ]  # fmt: skip
    return entries[:limit]


def no_progress_reason(rounds: int, last: dict[str, Any], section: RoundsSection) -> str:
    """Why a run trained nothing, from its last round's record (`section`: `rounds.*`)."""
    min_clients = min(section.min_clients, section.clients_per_round)
    return (
        f"no round trained the model: {rounds} round(s) ran and every one was skipped because "
        f"fewer than {min_clients} clients (rounds.min_clients) succeeded; "
        f"{_last_round(last)}"
    )


def stall_reason(round_number: int, last: dict[str, Any], section: RoundsSection) -> str:
    """Why a run stopped early: `rounds.stop_after_skipped` rounds in a row were skipped."""
    return (
        f"stopped after round {round_number}: the last {section.stop_after_skipped} rounds "
        "were all skipped (rounds.stop_after_skipped); the checkpoint is kept, fix the cause "
        f"and --resume; {_last_round(last)}"
    )


def _last_round(last: dict[str, Any]) -> str:
    clients = last.get("clients", {})
    counts = ", ".join(
        f"{clients.get(key, 0)} {label}"
        for key, label in (
            ("succeeded", "succeeded"),
            ("failed", "failed"),
            ("timed_out", "timed out"),
            ("non_finite", "non-finite"),
        )
    )
    first = next(iter(last.get("failures", [])), None)
    example = f"; first failure: client {first['client']}: {first['error']}" if first else ""
    return f"last round: {counts}{example} (every failure is in metrics.jsonl)"


def stalled(skipped_in_a_row: int, limit: int | None) -> bool:
    """True once `limit` rounds in a row were skipped (`rounds.stop_after_skipped`)."""
    return limit is not None and skipped_in_a_row >= limit
