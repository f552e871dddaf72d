"""fedasr against Flower's simulation engine: the same model, data, partitions, cohort and local
steps, timed in two regimes, with a check that both end at the same global weights.

Flower is a benchmark-only dependency, installed into its own venv that sees the system's
torch and fedasr (nothing of the system install changes; torch stays 2.13.0+cpu):

    python3.11 -m venv --system-site-packages /tmp/flwrvenv
    /tmp/flwrvenv/bin/pip install -c constraints.txt 'flwr[simulation]==1.41.0'

Run (on the shared machine, under the heavy-job lock):

    flock /tmp/fedasr-heavy.lock /tmp/flwrvenv/bin/python benchmarks/bench_flower.py

How the two sides are made the same:
- one config per regime (flower_shared.REGIMES): tiny preset, one client per training speaker,
  FedAvg weighted by examples, server SGD lr 1 (plain FedAvg); `small` = one local step per
  client, 16 clients a round; `compute` = one local epoch, 8 clients a round;
- every client, on both sides, is trained by fedasr's client code (FedAvg.client_update on a
  long-lived WorkerContext, one torch thread) with the same task: rows, per-round seed, lr;
- Flower's node sampling is replaced by fedasr's sample_cohort, so both train the same clients;
- fedasr: process executor, 2 workers, 1 thread each; Flower: run_simulation with the Ray
  backend, client_resources num_cpus=1 (two ClientApps at a time on 2 cores), and its own
  FedAvg strategy (weighted mean of the returned weights in float32).

Each (framework, regime, repeat) runs in a fresh process. Start-up = time from the start of
the framework's work (after `import torch, fedasr`; importing flwr and ray counts for Flower)
to the end of round 1, less one steady-state round; steady state = the median of rounds 2..R.
Neither side evaluates or checkpoints during the timed rounds.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from flower_shared import REGIMES, TrainerRecipe, bench_config, client_lr, cohort_of

from fedasr.engine.executors import make_executor
from fedasr.engine.loop import FederatedRun
from fedasr.engine.setup import build_setup

ROUNDS = {"small": 12, "compute": 4}
FRAMEWORKS = ("fedasr", "flower")
FLOWER_BACKEND: dict[str, Any] = {
    # Flower's simulation docs: client_resources sets how many ClientApps run at once;
    # init_args go to ray.init (no dashboard, exactly the machine's 2 cores)
    "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
    "init_args": {"num_cpus": 2, "num_gpus": 0, "include_dashboard": False},
}


class UntimedEvalRun(FederatedRun):
    """A fedasr run that never evaluates: the Flower side does not evaluate either."""

    def _should_evaluate(self, r: int) -> bool:
        return False


# ----------------------------------------------------------------------------- one run (child)
def run_fedasr(regime: str, rounds: int, work: Path) -> tuple[float, list[float], list[Any]]:
    started = time.perf_counter()
    config = bench_config(regime, rounds, work / "run", [])
    run = UntimedEvalRun(config, progress=False)
    ex = config.executor
    run.executor = make_executor(ex.kind, run.setup.spec, run.setup.workers, ex.ray_address)
    ends, weights = [], []
    try:
        for r in range(rounds):
            run.run_round(r)
            ends.append(time.perf_counter())
            weights.append(run.server.params.clone())
    finally:
        run.executor.close()
        run.run.close()
    return started, ends, weights


def run_flower(
    regime: str, rounds: int, work: Path, reuse: bool
) -> tuple[float, list[float], list[Any]]:
    started = time.perf_counter()
    from flower_apps import CohortFedAvg, ServerLog, make_client_app, make_server_app
    from flwr.simulation import run_simulation

    config = bench_config(regime, rounds, work / "run", [])
    setup = build_setup(config, work / "tokenizer", progress=False)
    recipe = work / "recipe.pkl"
    TrainerRecipe(setup.spec, setup.registry, config.seed).save(recipe)
    clients = len(setup.registry)
    strategy = CohortFedAvg(
        lambda r: cohort_of(config, clients, r), lambda r: client_lr(config, r), clients
    )
    log = ServerLog()
    initial = {k: v.clone() for k, v in setup.layout.views(setup.init_params).items()}
    run_simulation(
        server_app=make_server_app(initial, rounds, strategy, log),
        client_app=make_client_app(str(recipe), reuse=reuse),
        num_supernodes=clients,
        backend_config=FLOWER_BACKEND,
    )
    if len(log.round_ends) != rounds:
        raise RuntimeError(f"Flower finished {len(log.round_ends)} of {rounds} rounds")
    return started, log.round_ends, [setup.layout.flatten(w) for w in log.weights]


def child(args: argparse.Namespace) -> None:
    work = Path(args.work)
    if args.child == "fedasr":
        started, ends, weights = run_fedasr(args.regime, args.rounds, work)
    else:
        started, ends, weights = run_flower(args.regime, args.rounds, work, args.flower_reuse)
    torch.save(weights, work / "weights.pt")
    timing = {"round_ends": [end - started for end in ends], "total": time.perf_counter() - started}
    (work / "timing.json").write_text(json.dumps(timing))


# ----------------------------------------------------------------------------- driver
def launch(framework: str, regime: str, rounds: int, work: Path, reuse: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", framework, "--regime", regime]
    command += ["--rounds", str(rounds), "--work", str(work)]
    command += ["--flower-reuse"] if reuse else []
    env = dict(os.environ, FLWR_TELEMETRY_ENABLED="0", RAY_DEDUP_LOGS="0")
    load = Path("/proc/loadavg").read_text().strip()
    with (work / "log.txt").open("w") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    if done.returncode != 0:
        tail = (work / "log.txt").read_text()[-3000:]
        raise RuntimeError(f"{framework} {regime} failed ({done.returncode}):\n{tail}")
    timing = json.loads((work / "timing.json").read_text())
    timing["loadavg"] = load
    return timing


def summarize(timing: dict[str, Any], cohort: int) -> dict[str, float]:
    ends = timing["round_ends"]
    rounds = [b - a for a, b in itertools.pairwise(ends)]
    steady = statistics.median(rounds)
    return {
        "startup": ends[0] - steady,
        "round": steady,
        "clients_per_s": cohort / steady,
        "total": timing["total"],
    }


def max_abs_diff(a: list[torch.Tensor], b: list[torch.Tensor]) -> list[float]:
    return [float((x - y).abs().max()) for x, y in zip(a, b, strict=True)]


def bench_regime(regime: str, rounds: int, repeats: int, reuse: bool, root: Path) -> dict:
    cohort = int(
        next(o for o in REGIMES[regime] if o.startswith("rounds.clients_per_round=")).split("=")[1]
    )
    runs: dict[str, list[dict[str, Any]]] = {f: [] for f in FRAMEWORKS}
    weights: dict[str, list[list[torch.Tensor]]] = {f: [] for f in FRAMEWORKS}
    for repeat in range(repeats):
        order = FRAMEWORKS if repeat % 2 == 0 else FRAMEWORKS[::-1]  # alternate who goes first
        for framework in order:
            work = root / f"{regime}-{framework}-{repeat}"
            work.mkdir(parents=True)
            timing = launch(framework, regime, rounds, work, reuse)
            stats = summarize(timing, cohort)
            print(f"{regime} {framework} #{repeat}: {stats} load {timing['loadavg']}", flush=True)
            runs[framework].append({**stats, "loadavg": timing["loadavg"]})
            weights[framework].append(torch.load(work / "weights.pt"))
    return {
        "regime": regime,
        "rounds": rounds,
        "cohort": cohort,
        "runs": runs,
        "diff_fedasr_flower": max_abs_diff(weights["fedasr"][0], weights["flower"][0]),
        "diff_fedasr_repeats": max_abs_diff(weights["fedasr"][0], weights["fedasr"][-1]),
        "diff_flower_repeats": max_abs_diff(weights["flower"][0], weights["flower"][-1]),
        "weight_scale": float(weights["fedasr"][0][-1].abs().max()),
    }


def median_of(result: dict, framework: str, key: str) -> float:
    return statistics.median(run[key] for run in result["runs"][framework])


def markdown(results: list[dict]) -> str:
    lines = [
        "| regime | clients/round | framework | start-up | s/round | clients/s | speed-up "
        "| max abs weight diff (round 1 … R) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        fed_round = median_of(result, "fedasr", "round")
        for framework in FRAMEWORKS:
            runs = result["runs"][framework]
            per_round = ", ".join(f"{run['round']:.3f}" for run in runs)
            speed = median_of(result, "flower", "round") / fed_round if framework == "fedasr" else 1
            diff = result["diff_fedasr_flower"]
            lines.append(
                f"| {result['regime']} | {result['cohort']} | {framework} "
                f"| {median_of(result, framework, 'startup'):.1f} s "
                f"| {median_of(result, framework, 'round'):.3f} s ({per_round}) "
                f"| {median_of(result, framework, 'clients_per_s'):.1f} "
                f"| {speed:.2f}× "
                f"| {diff[0]:.1e} … {diff[-1]:.1e} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--regimes", nargs="+", default=list(REGIMES), choices=list(REGIMES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=None, help="default: small 12, compute 4")
    parser.add_argument(
        "--flower-fresh",
        action="store_true",
        help="Flower builds a new model per client (its ephemeral-client pattern) instead of "
        "reusing one per actor",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--child", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    parser.add_argument("--regime", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--flower-reuse", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_flower_") as tmp:
        results = [
            bench_regime(
                regime,
                args.rounds or ROUNDS[regime],
                args.repeats,
                not args.flower_fresh,
                Path(tmp),
            )
            for regime in args.regimes
        ]
    print(f"load average after: {Path('/proc/loadavg').read_text().strip()}")
    print(markdown(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
