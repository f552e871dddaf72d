"""fedasr against Flower's simulation engine: the same model, data, partitions, cohort and local
steps, timed in two regimes, with a check that both end at the same global weights.

Flower is a benchmark-only dependency, installed with fedasr into a venv of its own (from the
repository root; torch stays 2.13.0+cpu):

    python3 -m venv .venv-flower
    .venv-flower/bin/pip install -c constraints.txt -e . -r benchmarks/flower-requirements.txt

Run, from the repository root, alone on the machine (on a shared one, under its job queue):

    .venv-flower/bin/python -m benchmarks.bench_flower --corpus CORPUS --out results.json

CORPUS: the default corpus (`fedasr data synth --out CORPUS --size default`) for the figures
in docs/benchmarks.md; default corpora/default in this repository.

How the two sides are made the same:
- one config per regime (flower_shared.REGIMES): tiny preset, one client per training speaker,
  FedAvg weighted by examples, server SGD lr 1 (plain FedAvg); `small` = one local step on
  one utterance per client, 16 clients a round; `compute` = one local epoch, 8 clients a round;
- every client, on both sides, is trained by fedasr's client code (the algorithm's client half,
  `algorithm.client.update(ctx, task, broadcast)`, on a long-lived worker context, one torch
  thread) with the same task: rows, per-round seed, model spec, lr;
- Flower's node sampling is replaced by fedasr's sample_cohort, so both train the same clients;
- fedasr: process executor, 2 workers, 1 thread each; Flower: run_simulation with the Ray
  backend, client_resources num_cpus=1 (two ClientApps at a time on 2 cores), and its own
  FedAvg strategy (weighted mean of the returned weights in float32).

Each (framework, regime, repeat) runs in a fresh process. Start-up = time from the start of
the framework's work (after `import torch, fedasr`; importing flwr and ray counts for Flower)
to the end of round 1, less one steady-state round; steady state = the median of rounds 2..R.
Neither side evaluates or checkpoints during the timed rounds.

Weights: the largest absolute difference of the global weights after every round, fedasr
against Flower's FedAvg (float32 in reply order: rounding, which AdamW clients then amplify),
and against one more Flower run whose strategy aggregates with fedasr's code (must be 0: the
clients' work is the same computation). Results: docs/benchmarks.md, "Against Flower".
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

from benchmarks.flower_shared import (
    REGIMES,
    FedasrAggregate,
    TrainerRecipe,
    bench_config,
    client_lr,
    cohort_of,
)
from fedasr.experiment import build_run
from fedasr.experiment.setup import build_setup

REPO = Path(__file__).resolve().parents[1]

ROUNDS = {"small": 12, "compute": 4}
FRAMEWORKS = ("fedasr", "flower")
FLOWER_BACKEND: dict[str, Any] = {
    # Flower's simulation docs: client_resources sets how many ClientApps run at once;
    # init_args go to ray.init (no dashboard, exactly the machine's 2 cores)
    "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
    "init_args": {"num_cpus": 2, "num_gpus": 0, "include_dashboard": False},
}


# ----------------------------------------------------------------------------- one run (child)
def run_fedasr(corpus: Path, regime: str, rounds: int, work: Path) -> dict[str, Any]:
    """fedasr's rounds through the public API; the config evaluates no split (as Flower)."""
    started = time.perf_counter()
    run = build_run(bench_config(corpus, regime, rounds, work / "run", []), progress=False)
    ends, weights, seconds = [], [], []
    with run.executing():
        for r in range(rounds):
            record = run.run_round(r)
            ends.append(time.perf_counter())
            weights.append(run.server.main.clone())
            seconds.append(record["cost"]["client_wall_s"])
    return {"started": started, "ends": ends, "weights": weights, "train_seconds": seconds}


def run_flower(
    corpus: Path, regime: str, rounds: int, work: Path, reuse: bool, exact: bool
) -> dict[str, Any]:
    started = time.perf_counter()
    from flwr.simulation import run_simulation

    from benchmarks.flower_apps import CohortFedAvg, ServerLog, make_client_app, make_server_app

    config = bench_config(corpus, regime, rounds, work / "run", [])
    setup = build_setup(config, work / "tokenizer", progress=False)
    recipe = work / "recipe.pkl"
    TrainerRecipe(setup.spec, setup.registry, config.seed).save(recipe)
    clients = len(setup.registry)
    strategy = CohortFedAvg(
        lambda r: cohort_of(config, clients, r),
        lambda r: client_lr(config, r),
        clients,
        setup.layout,
        FedasrAggregate(config, setup.registry, setup.dims) if exact else None,
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
    return {
        "started": started,
        "ends": log.round_ends,
        "weights": [setup.layout.flatten(w) for w in log.weights],
        "train_seconds": [s["train-seconds"] for s in strategy.client_seconds],
        "app_seconds": [s["app-seconds"] for s in strategy.client_seconds],
    }


def child(args: argparse.Namespace) -> None:
    work = Path(args.work)
    if args.child == "fedasr":
        out = run_fedasr(args.corpus, args.regime, args.rounds, work)
    else:
        out = run_flower(
            args.corpus, args.regime, args.rounds, work, not args.flower_fresh, args.exact
        )
    torch.save(out.pop("weights"), work / "weights.pt")
    started = out.pop("started")
    out["round_ends"] = [end - started for end in out.pop("ends")]
    out["total"] = time.perf_counter() - started
    (work / "timing.json").write_text(json.dumps(out))


# ----------------------------------------------------------------------------- driver
def launch(
    corpus: Path, framework: str, regime: str, rounds: int, work: Path, flags: list[str]
) -> dict:
    """One run in a fresh process; its timings, with the load average before it."""
    command = [sys.executable, "-m", "benchmarks.bench_flower", "--child", framework]
    command += ["--corpus", str(corpus), "--regime", regime, "--rounds", str(rounds)]
    command += ["--work", str(work), *flags]
    env = dict(os.environ, FLWR_TELEMETRY_ENABLED="0")
    load = Path("/proc/loadavg").read_text().strip()
    work.mkdir(parents=True)
    with (work / "log.txt").open("w") as log:
        done = subprocess.run(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO, check=False
        )
    if done.returncode != 0:
        tail = (work / "log.txt").read_text()[-3000:]
        raise RuntimeError(f"{framework} {regime} failed ({done.returncode}):\n{tail}")
    timing = json.loads((work / "timing.json").read_text())
    timing["loadavg"] = load
    return timing


def summarize(timing: dict[str, Any], cohort: int) -> dict[str, Any]:
    """Steady state = median over rounds 2..R; start-up = end of round 1 less one such round."""
    ends = timing["round_ends"]
    steady = statistics.median(b - a for a, b in itertools.pairwise(ends))
    return {
        "startup": ends[0] - steady,
        "round": steady,
        "clients_per_s": cohort / steady,
        "train_seconds": statistics.median(timing["train_seconds"][1:]),
        "total": timing["total"],
        "loadavg": timing["loadavg"],
    }


def max_abs_diff(a: list[torch.Tensor], b: list[torch.Tensor]) -> list[float]:
    return [float((x - y).abs().max()) for x, y in zip(a, b, strict=True)]


def cohort_size(regime: str) -> int:
    key = "rounds.clients_per_round="
    return int(next(o for o in REGIMES[regime] if o.startswith(key)).removeprefix(key))


def bench_regime(
    corpus: Path, regime: str, rounds: int, repeats: int, fresh: bool, root: Path
) -> dict:
    cohort = cohort_size(regime)
    flower_flags = ["--flower-fresh"] if fresh else []
    runs: dict[str, list[dict[str, Any]]] = {f: [] for f in FRAMEWORKS}
    weights: dict[str, list[list[torch.Tensor]]] = {f: [] for f in FRAMEWORKS}
    for repeat in range(repeats):
        order = FRAMEWORKS if repeat % 2 == 0 else FRAMEWORKS[::-1]  # alternate who goes first
        for framework in order:
            work = root / f"{regime}-{framework}-{repeat}"
            flags = flower_flags if framework == "flower" else []
            stats = summarize(launch(corpus, framework, regime, rounds, work, flags), cohort)
            print(f"{regime} {framework} #{repeat}: {stats}", flush=True)
            runs[framework].append(stats)
            weights[framework].append(torch.load(work / "weights.pt"))
    return {
        "regime": regime,
        "rounds": rounds,
        "cohort": cohort,
        "runs": runs,
        "diff_fedasr_flower": max_abs_diff(weights["fedasr"][0], weights["flower"][0]),
        "diff_fedasr_flower_exact": exact_check(
            corpus, regime, rounds, flower_flags, root, weights
        ),
        "diff_fedasr_repeats": max_abs_diff(weights["fedasr"][0], weights["fedasr"][-1]),
        "diff_flower_repeats": max_abs_diff(weights["flower"][0], weights["flower"][-1]),
        "weight_max": [float(w.abs().max()) for w in weights["fedasr"][0]],
    }


def exact_check(
    corpus: Path, regime: str, rounds: int, flags: list[str], root: Path, weights: dict[str, list]
) -> list[float] | None:
    """One more Flower run whose strategy aggregates with fedasr's code: with the same client
    updates it must end bit-identical to fedasr (None: that run failed; see its log)."""
    work = root / f"{regime}-flower-exact"
    try:
        launch(corpus, "flower", regime, rounds, work, [*flags, "--exact"])
    except RuntimeError as err:
        print(f"exactness run failed: {err}", flush=True)
        return None
    return max_abs_diff(weights["fedasr"][0], torch.load(work / "weights.pt"))


def median_of(result: dict, framework: str, key: str) -> float:
    return statistics.median(run[key] for run in result["runs"][framework])


def diffs(values: list[float] | None) -> str:
    if values is None:
        return "run failed"
    return " / ".join("0" if v == 0 else f"{v:.1e}" for v in values)


def markdown(results: list[dict]) -> str:
    lines = [
        "| regime | clients/round | framework | start-up | s/round (runs) | clients/s "
        "| client training s/round | fedasr speed-up |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        speed_up = median_of(result, "flower", "round") / median_of(result, "fedasr", "round")
        for framework in FRAMEWORKS:
            per_round = ", ".join(f"{run['round']:.3f}" for run in result["runs"][framework])
            lines.append(
                f"| {result['regime']} | {result['cohort']} | {framework} "
                f"| {median_of(result, framework, 'startup'):.1f} s "
                f"| **{median_of(result, framework, 'round'):.3f}** ({per_round}) "
                f"| {median_of(result, framework, 'clients_per_s'):.1f} "
                f"| {median_of(result, framework, 'train_seconds'):.2f} "
                f"| {f'**{speed_up:.2f}×**' if framework == 'fedasr' else ''} |"
            )
    lines += ["", "| regime | weights compared | max abs difference after round 1 / 2 / … |"]
    lines += ["|---|---|---|"]
    for result in results:
        for key, label in (
            ("diff_fedasr_flower", "fedasr vs Flower (Flower's FedAvg)"),
            ("diff_fedasr_flower_exact", "fedasr vs Flower (fedasr's aggregation)"),
            ("diff_fedasr_repeats", "fedasr run 1 vs run 3"),
            ("diff_flower_repeats", "Flower run 1 vs run 3"),
        ):
            lines.append(f"| {result['regime']} | {label} | {diffs(result[key])} |")
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
    parser.add_argument(
        "--corpus", type=Path, default=REPO / "corpora" / "default",
        help="a built corpus; default: corpora/default in this repository",
    )  # fmt: skip
    parser.add_argument("--child", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    parser.add_argument("--regime", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--exact", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.corpus = args.corpus.resolve()
    if args.child:
        child(args)
        return
    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_flower_") as tmp:
        for regime in args.regimes:
            rounds = args.rounds or ROUNDS[regime]
            result = bench_regime(
                args.corpus, regime, rounds, args.repeats, args.flower_fresh, Path(tmp)
            )
            results.append(result)
            print(markdown(results), flush=True)
            if args.out:  # after every regime: a later failure keeps what is done
                args.out.write_text(json.dumps(results, indent=1))
    print(f"load average after: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
