"""Scale: many registered clients, a fixed cohort per round.

    python -m benchmarks.bench_scale --corpus CORPUS

Run it alone on the machine (on a shared one, under its job queue). Clients come from
`partition.scheme=draw`: each of N clients draws 3 utterances of CORPUS (the default corpus,
`fedasr data synth --size default`, has 3,000 training utterances, so clients share them), one
local epoch of one 15-s batch.
1. Memory: for N = 100, 1,000, 10,000 registered and 50 clients per round, a fresh process
   builds the run and trains `--memory-rounds` rounds; it reports the registry's size, the resident
   set after setup and the peak resident set (ru_maxrss). The peak must not grow with N.
2. Round time by cohort at 10,000 registered: 10, 25, 50, 100 clients per round, the median
   of the rounds after the first (which builds the worker); a line fit gives seconds per
   client and the fixed cost of a round; round time must grow linearly with the cohort.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmarks.engine_bench import (
    REPO,
    add_engine_arguments,
    engine_config,
    fit_line,
    load1,
    loadavg,
    time_rounds,
)
from fedasr.engine.cohort import ClientRegistry
from fedasr.engine.loop import FederatedRun
from fedasr.experiment import build_run

PER_CLIENT = 3


@dataclass(frozen=True)
class Bench:
    corpus: Path
    overrides: list[str]  # --set


def population(bench: Bench, run_dir: str, registered: int, cohort: int) -> FederatedRun:
    config = engine_config(
        bench.corpus,
        run_dir,
        "partition.scheme=draw",
        f"partition.params={{num_clients: {registered}, per_client: {PER_CLIENT}}}",
        f"rounds.clients_per_round={cohort}",
        "rounds.total=100000",  # never the last round: no final checkpoint inside the timing
        *bench.overrides,
    )
    return build_run(config, progress=False)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def registry_bytes(registry: ClientRegistry) -> int:
    arrays = registry.offsets.nbytes + registry.rows.nbytes + registry.frames.nbytes
    return arrays + sum(sys.getsizeof(i) + 8 for i in registry.ids)


def memory_child(bench: Bench, registered: int, cohort: int, rounds: int) -> dict[str, Any]:
    """Runs in its own process, so that ru_maxrss is this configuration's peak alone."""
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as root:
        run = population(bench, root, registered, cohort)
        setup_rss = rss_mb()
        times = time_rounds(run, rounds)
        return {
            "registered": len(run.parts.registry),
            "registry_kb": registry_bytes(run.parts.registry) / 1024,
            "setup_rss_mb": setup_rss,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "round_s": statistics.median(times.steady),
            "load": load1(),
        }


def memory_rows(bench: Bench, sizes: list[int], cohort: int, rounds: int) -> list[dict[str, Any]]:
    rows = []
    for registered in sizes:
        command = [sys.executable, "-m", "benchmarks.bench_scale", "--corpus", str(bench.corpus),
                   "--child", str(registered), str(cohort), str(rounds)]  # fmt: skip
        if bench.overrides:
            command += ["--set", *bench.overrides]
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{registered} registered: the child failed\n{done.stderr[-3000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"  {rows[-1]}", flush=True)
    return rows


def cohort_rows(
    bench: Bench, registered: int, cohorts: list[int], rounds: int
) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as root:
        for cohort in cohorts:
            run = population(bench, f"{root}/c{cohort}", registered, cohort)
            load = load1()
            times = time_rounds(run, rounds)
            median = statistics.median(times.steady)
            rows.append({"cohort": cohort, "round_s": median, "rounds": times.steady, "load": load})
            print(f"  cohort {cohort}: {median:.2f} s per round {times.steady}", flush=True)
    return rows


def print_tables(memory: list[dict[str, Any]], cohorts: list[dict[str, Any]]) -> None:
    print("\n| registered | registry | RSS after setup | peak RSS | round (median) | load |")
    print("|---|---|---|---|---|---|")
    for row in memory:
        print(
            f"| {row['registered']:,} | {row['registry_kb']:.0f} KiB | "
            f"{row['setup_rss_mb']:.0f} MiB | **{row['peak_rss_mb']:.0f} MiB** | "
            f"{row['round_s']:.2f} s | {row['load']:.2f} |"
        )
    a, b, r2 = fit_line([r["cohort"] for r in cohorts], [r["round_s"] for r in cohorts])
    print("\n| clients per round | round (median) | per client | line fit | load |")
    print("|---|---|---|---|---|")
    for row in cohorts:
        fit = a + b * row["cohort"]
        print(
            f"| {row['cohort']} | {row['round_s']:.2f} s | "
            f"{1000 * row['round_s'] / row['cohort']:.1f} ms | {fit:.2f} s | {row['load']:.2f} |"
        )
    print(f"\nfit: round = {a:.3f} s + {1000 * b:.1f} ms x cohort, R² = {r2:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--registered", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--cohort", type=int, default=50)
    parser.add_argument("--cohorts", type=int, nargs="+", default=[10, 25, 50, 100])
    parser.add_argument("--rounds", type=int, default=3, help="per cohort, first = warm-up")
    parser.add_argument("--memory-rounds", type=int, default=2, help="per registered count")
    parser.add_argument("--child", type=int, nargs=3, help=argparse.SUPPRESS)
    add_engine_arguments(parser)
    args = parser.parse_args()
    bench = Bench(args.corpus.resolve(), args.set)
    if args.child:
        print(json.dumps(memory_child(bench, *args.child)))
        return
    torch.set_num_threads(1)
    print(f"/proc/loadavg at start: {loadavg()}", flush=True)
    memory = memory_rows(bench, args.registered, args.cohort, args.memory_rounds)
    cohorts = cohort_rows(bench, max(args.registered), args.cohorts, args.rounds)
    print_tables(memory, cohorts)
    print(f"/proc/loadavg at end: {loadavg()}")


if __name__ == "__main__":
    main()
