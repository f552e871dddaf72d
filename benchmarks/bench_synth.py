"""Time `fedasr data synth` end to end (the CLI, as a user runs it); print a markdown row.

    python -m benchmarks.bench_synth --size small --runs 3
    python -m benchmarks.bench_synth --size default --runs 3

Each run builds into a fresh temporary directory. The 1-minute load average is read before
every run, because the machine may be shared: a busy machine makes the build slower. CPU
seconds (all processes of the build, engines included) hardly depend on the load.
Columns: size | vocab | median wall (each run) | median CPU | clips | audio | disk | loads.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_one_build(size: str, vocab: str, out: Path) -> tuple[float, float, float, dict[str, Any]]:
    """Wall seconds, CPU seconds (all processes of the build), load before, corpus.json."""
    load_before = os.getloadavg()[0]
    command = [sys.executable, "-m", "fedasr", "data", "synth", "--out", str(out)]
    command += ["--size", size, "--vocab", vocab]
    cpu_before, started = children_cpu_seconds(), time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    cpu = children_cpu_seconds() - cpu_before
    return seconds, cpu, load_before, json.loads((out / "corpus.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="small")
    parser.add_argument("--vocab", default="commands")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    times, cpus, loads = [], [], []
    info: dict[str, Any] = {}
    for run in range(args.runs):
        out = Path(tempfile.mkdtemp(prefix="fedasr-bench-synth-"))
        try:
            seconds, cpu, load, info = time_one_build(args.size, args.vocab, out / "corpus")
            disk_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
        finally:
            shutil.rmtree(out, ignore_errors=True)
        times.append(seconds)
        cpus.append(cpu)
        loads.append(load)
        print(
            f"run {run + 1}: {seconds:.1f} s wall, {cpu:.1f} s CPU, load before {load:.2f}",
            file=sys.stderr,
        )
    counts = info["counts"]
    utterances = sum(split["utterances"] for split in counts.values())
    hours = sum(split["hours"] for split in counts.values())
    runs = ", ".join(f"{t:.1f}" for t in times)
    print(
        f"| {args.size} | {args.vocab} | {statistics.median(times):.1f} s ({runs}) "
        f"| {statistics.median(cpus):.0f} s "
        f"| {utterances} | {hours:.2f} h | {disk_mb:.0f} MB "
        f"| {', '.join(f'{x:.2f}' for x in loads)} |"
    )


if __name__ == "__main__":
    main()
