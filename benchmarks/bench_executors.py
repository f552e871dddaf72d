"""Executors: clients per second of the serial, process-pool and Ray executors by worker count.

    python -m benchmarks.bench_executors --corpus CORPUS
    python -m benchmarks.bench_executors --corpus CORPUS --executors serial process:2

Run it alone on the machine (on a shared one, under its job queue). The same run for each:
20 speaker clients per round from CORPUS (the default corpus, `fedasr data synth --size
default`, for the documented figures), 2 local steps of 15 s batches each (small clients,
where an executor's own cost shows), 4 shards, one torch thread per worker. Start-up (executor
start, plus the first round's extra time: it builds the workers) is reported apart from the
steady state (median of the later rounds). The global weights after the last round must be
equal across executors, bit for bit.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from dataclasses import dataclass

import torch

from benchmarks.engine_bench import add_engine_arguments, engine_config, load1, loadavg, time_rounds
from fedasr.experiment import build_run

EXECUTORS = ["serial", "process:1", "process:2", "ray:1", "ray:2"]
KINDS = ("serial", "process", "ray")


def executor_arg(text: str) -> tuple[str, int]:
    """KIND or KIND:WORKERS, e.g. serial, process:2."""
    kind, _, workers = text.partition(":")
    if kind not in KINDS or not (workers or "1").isdigit() or int(workers or "1") < 1:
        raise argparse.ArgumentTypeError(
            f"got {text!r}; expected KIND or KIND:WORKERS with KIND one of {', '.join(KINDS)}"
        )
    return kind, int(workers or "1")


@dataclass
class Row:
    kind: str
    workers: int
    cohort: int
    startup_s: float
    round_s: float
    load: float

    @property
    def clients_per_s(self) -> float:
        return self.cohort / self.round_s


def measure(
    root: str, kind: str, workers: int, args: argparse.Namespace
) -> tuple[Row, torch.Tensor]:
    config = engine_config(
        args.corpus,
        f"{root}/{kind}{workers}",
        "partition.scheme=speaker",
        f"rounds.clients_per_round={args.cohort}",
        f"client.max_steps={args.steps}",
        "rounds.total=100000",  # no final checkpoint inside the timing
        f"executor.kind={kind}",
        f"executor.workers={workers}",
        *args.set,
    )
    run = build_run(config, progress=False)
    load = load1()
    times = time_rounds(run, args.rounds)
    steady = statistics.median(times.steady)
    startup = times.startup_s + times.rounds_s[0] - steady
    row = Row(kind, workers, args.cohort, startup, steady, load)
    print(
        f"  {kind} x{workers}: start-up {startup:.1f} s, rounds {times.rounds_s}, "
        f"{row.clients_per_s:.2f} clients/s (load {load:.2f})",
        flush=True,
    )
    return row, run.server.main.clone()


def print_table(rows: list[Row]) -> None:
    """Rates relative to the serial executor (or the first row, without one)."""
    serial = next((row for row in rows if row.kind == "serial"), rows[0])
    versus = "serial" if serial.kind == "serial" else f"{serial.kind} x{serial.workers}"
    print(f"\n| executor | workers | start-up | round (median) | clients/s | vs {versus} | load |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row.kind} | {row.workers} | {row.startup_s:.1f} s | {row.round_s:.2f} s | "
            f"**{row.clients_per_s:.2f}** | {row.clients_per_s / serial.clients_per_s:.2f}x | "
            f"{row.load:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cohort", type=int, default=20)
    parser.add_argument("--steps", type=int, default=2, help="local steps per client")
    parser.add_argument("--rounds", type=int, default=4, help="first = warm-up")
    parser.add_argument(
        "--executors", nargs="+", type=executor_arg, default=[executor_arg(e) for e in EXECUTORS],
        metavar="KIND[:WORKERS]", help=f"default: {' '.join(EXECUTORS)}",
    )  # fmt: skip
    add_engine_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"/proc/loadavg at start: {loadavg()}", flush=True)
    rows, weights = [], []
    with tempfile.TemporaryDirectory(prefix="bench-executors-") as root:
        for kind, workers in args.executors:
            row, params = measure(root, kind, workers, args)
            rows.append(row)
            weights.append(params)
    same = all(torch.equal(weights[0], w) for w in weights[1:])
    print_table(rows)
    print(f"\nfinal global weights bit-identical across executors: {same}")
    print(f"/proc/loadavg at end: {loadavg()}")


if __name__ == "__main__":
    main()
