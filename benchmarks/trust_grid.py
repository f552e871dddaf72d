"""Every run behind docs/results/trust.md (start it with scripts/trust_results.sh, which pins
the code to a commit), then its tables and plots (benchmarks/trust_tables.py).

    python -m benchmarks.trust_grid --corpus CORPUS --out runs/trust [--seeds 0 1 2]
        [--budget-min 28]

The design (docs/results/trust.md, "Setup"): CORPUS's 30 training speakers are split into 10
"public" speakers, on which one model is pretrained centrally, and 20 private speaker clients,
on which every federated arm continues from that model (10 clients a round, 6 rounds, one
local epoch). Public pretraining keeps the DP arms' guarantee whole: no private client's data
reached the starting point. A model already at OUT/pretrain/model.safetensors is reused.

The arms run in order of priority, so that a time budget cuts the least important ones:
    1. the headline at the first seed: 7 defences x (clean + 3 attacks at HEADLINE_RATE);
       DP-FedAvg at HEADLINE_NOISE (0 = clipping only); SecAgg in a run (with and without
       30 % client failures, and with distributed DP) and benchmarks/bench_secagg.py at the
       tiny preset's full size (one repeat)
    2. the other seeds of tier 1's federated arms, arm by arm (FedAvg and DP first), so that
       whatever finishes has every seed
    3. the other attack rates (RATES) and noise levels (NOISE), first seed, then the others

Runs go two at a time (serial executor, one thread each: the two cores stay busy through
evaluation and aggregation). With --budget-min, no arm starts after that many minutes (the
ones running finish); the skipped arms are listed in OUT/skipped.txt and the tables say "not
run". A finished run (model.safetensors) is read back, an unfinished one is resumed
(--resume: bit-identical to an uninterrupted run).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROUNDS, COHORT = 6, 10
DEFENCES = {
    "fedavg": [],
    "dga": ["algorithm={name: dga, beta: 5}"],
    "median": ["trust.robust.kind=median"],
    "trimmed_mean": ["trust.robust={kind: trimmed_mean, trim: 0.3}"],
    "krum": ["trust.robust={kind: krum, byzantine: 3}"],
    "multi_krum": ["trust.robust={kind: multi_krum, byzantine: 3}"],
    "norm_clip": ["trust.robust={kind: mean, clip: {mode: median, multiplier: 1.0}}"],
}
ATTACKS = {
    "sign_flip": "{kind: sign_flip, rate: RATE}",
    "scale": "{kind: scale, factor: 10, rate: RATE}",
    "gaussian": "{kind: gaussian, rate: RATE}",
}
RATES = (0.1, 0.2, 0.3)
HEADLINE_RATE = 0.2
NOISE = (0.0, 0.003, 0.01, 0.03, 0.1)
HEADLINE_NOISE = (0.0, 0.01, 0.03, 0.1)
DP_CLIP = 3.0  # the pilot's median update norm (3.1-3.2); adaptive clipping tracks it
SECAGG = "trust.secagg={clip_range: 0.5, max_weight: 20}"


@dataclasses.dataclass(frozen=True)
class Arm:
    name: str
    overrides: tuple[str, ...]


def attack_arms(seed: int, rates: tuple[float, ...]) -> Iterator[Arm]:
    """FedAvg first (the undefended baseline), then each defence; clean first if in rates
    (rate 0)."""
    for defence, extra in DEFENCES.items():
        for rate in rates:
            if rate == 0:
                yield Arm(f"{defence}-clean-s{seed}", (*extra, f"seed={seed}"))
                continue
            for attack, spec in ATTACKS.items():
                groups = f"trust.attacks=[{spec.replace('RATE', str(rate))}]"
                name = f"{defence}-{attack}{round(rate * 100)}-s{seed}"
                yield Arm(name, (*extra, groups, f"seed={seed}"))


def dp_arms(seed: int, noise: tuple[float, ...]) -> Iterator[Arm]:
    for z in noise:
        dp = (
            f"trust.dp={{noise_multiplier: {z}, clip_norm: {DP_CLIP}, "
            "adaptive: {target_quantile: 0.5, learning_rate: 0.2}}"
        )
        yield Arm(f"dp-z{z:g}-s{seed}", (dp, f"seed={seed}"))


def with_seed(arm: Arm, seed: int) -> Arm:
    base = arm.name.rsplit("-s", 1)[0]
    kept = tuple(o for o in arm.overrides if not o.startswith("seed="))
    return Arm(f"{base}-s{seed}", (*kept, f"seed={seed}"))


def prioritized(seeds: list[int]) -> list[Arm]:
    """Every arm, most important first (the module's docstring, tiers 1-3); "bench_secagg"
    stands for the SecAgg benchmark."""
    first, others = seeds[0], seeds[1:]
    headline = [*attack_arms(first, (0.0, HEADLINE_RATE)), *dp_arms(first, HEADLINE_NOISE)]
    headline.sort(key=lambda arm: not arm.name.startswith(("fedavg-", "dp-")))
    tier1 = [*headline, *secagg_arms(first), Arm("bench_secagg", ())]
    tier2 = [with_seed(arm, seed) for arm in headline for seed in others]
    rest_rates = tuple(r for r in RATES if r != HEADLINE_RATE)
    rest_noise = tuple(z for z in NOISE if z not in HEADLINE_NOISE)
    tier3 = [
        arm
        for seed in seeds
        for arm in (*attack_arms(seed, rest_rates), *dp_arms(seed, rest_noise))
    ]
    return [*tier1, *tier2, *tier3]


def secagg_arms(seed: int) -> Iterator[Arm]:
    drop = "faults.error.rate=0.3"
    yield Arm(f"secagg-s{seed}", (SECAGG, f"seed={seed}"))
    yield Arm(f"secagg-drop30-s{seed}", (SECAGG, drop, f"seed={seed}"))
    yield Arm(f"fedavg-drop30-s{seed}", (drop, f"seed={seed}"))
    dp = (
        f"trust.dp={{mode: distributed, noise_multiplier: 0.01, clip_norm: {DP_CLIP}, "
        "adaptive: {target_quantile: 0.5, learning_rate: 0.2}}"
    )
    secure = "trust.secagg={clip_range: 0.5, max_weight: 1}"
    yield Arm(f"secagg-dp-z0.01-s{seed}", (secure, dp, f"seed={seed}"))


def split_corpus(corpus: Path, out: Path) -> tuple[Path, Path]:
    """public = every third sorted training speaker, private = the rest (absolute audio
    paths; test = those speakers' test utterances; heldout = the held-out speakers)."""
    from fedasr.data.manifest import audio_path, read_manifest, write_manifest

    speakers = sorted({u.speaker for u in read_manifest(corpus / "train.jsonl")})
    public = set(speakers[0::3])
    for half, inside in (("public", True), ("private", False)):
        for split in ("train", "test", "heldout"):
            target = out / half / f"{split}.jsonl"
            if target.is_file():
                continue
            manifest = corpus / f"{split}.jsonl"
            utts = [
                dataclasses.replace(u, audio=str(audio_path(manifest, u).resolve()))
                for u in read_manifest(manifest)
                if split == "heldout" or (u.speaker in public) == inside
            ]
            write_manifest(target, utts)
    return out / "public", out / "private"


def run(command: list[str], name: str, out: Path, code: Path | None = None) -> None:
    """Run `command` (with the code in `code` instead of this script's, when given), its
    output in OUT/logs/NAME.log and its time in OUT/timings.jsonl."""
    started, load = time.time(), os.getloadavg()[0]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if code is not None:
        env["PYTHONPATH"] = f"{code / 'src'}:{code}"
    log = out / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as handle:
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=code)
    seconds = time.time() - started
    line = {"name": name, "seconds": round(seconds, 1), "load1": load, "exit": done.returncode,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))}  # fmt: skip
    with (out / "timings.jsonl").open("a") as handle:
        handle.write(json.dumps(line) + "\n")
    print(f"{name}: {seconds:.0f} s (exit {done.returncode}, load {load:.1f})", flush=True)


def federated(arm: Arm, common: list[str], out: Path) -> None:
    run_dir = out / "runs" / arm.name
    if (run_dir / "model.safetensors").is_file():
        return
    fedasr = [sys.executable, "-m", "fedasr", "run"]
    if (run_dir / "metrics.jsonl").is_file():  # begun before a stop: continue it
        run([*fedasr, "--resume", str(run_dir), "-q"], arm.name, out)
        return
    config = str(REPO / "configs" / "fedavg.yaml")
    overrides = [*common, f"name={arm.name}", f"run_dir={run_dir}", *arm.overrides]
    run([*fedasr, config, "-q", *overrides], arm.name, out)


def pretrain(public: Path, out: Path, extra: list[str]) -> Path:
    model = out / "pretrain" / "model.safetensors"
    if not model.is_file():
        if (out / "pretrain").exists():  # a pretraining cut short: keep it aside
            (out / "pretrain").rename(out / f"pretrain.incomplete-{int(time.time())}")
        overrides = [
            f"data.corpus={public}", "data.synth_if_missing=null", f"run_dir={out / 'pretrain'}",
            "name=pretrain", "seed=0", "central.epochs=12", "central.time_budget_min=null",
            "central.eval_every_epochs=12", "client.batch_seconds=15", "client.lr=0.003",
            "client.threads=2", "eval.max_utterances=null", "logging.tensorboard=false", *extra,
        ]  # fmt: skip
        config = str(REPO / "configs" / "centralized.yaml")
        run([sys.executable, "-m", "fedasr", "train", config, "-q", *overrides], "pretrain", out)
    return model


def secagg_bench(out: Path) -> None:
    target = out / "bench_secagg.json"
    if target.is_file():
        return
    bench = [sys.executable, "-m", "benchmarks.bench_secagg", str(target), "--repeats", "1"]
    run(bench, "bench_secagg", out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("runs/trust"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--commit", default="")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--budget-min", type=float, help="start no arm after this many minutes")
    parser.add_argument("--set", nargs="*", default=[], help="overrides for every run (smoke)")
    parser.add_argument("--only", nargs="*", help="only arms whose name contains one of these")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    import fedasr

    print(f"fedasr from {Path(fedasr.__file__).parent} (commit {args.commit})", flush=True)
    started = time.time()
    public, private = split_corpus(args.corpus.resolve(), out / "corpus")
    model = pretrain(public, out, args.set)
    common = [
        f"data.corpus={private}", "data.synth_if_missing=null", f"model.init_from={model}",
        f"rounds.total={ROUNDS}", f"rounds.clients_per_round={COHORT}", "rounds.min_clients=5",
        "client.local_epochs=1", "client.batch_seconds=5", "client.lr=0.001",
        "client.lr_schedule.kind=constant", f"eval.every={ROUNDS}", "eval.max_utterances=null",
        "executor.kind=serial", "executor.threads_per_worker=1", "logging.tensorboard=false",
        "logging.checkpoint_every=2", "logging.keep_checkpoints=1", *args.set,
    ]  # fmt: skip
    arms = prioritized(args.seeds)
    if args.only is not None:
        arms = [arm for arm in arms if any(part in arm.name for part in args.only)]
    deadline = math.inf if args.budget_min is None else started + 60 * args.budget_min
    skipped: list[str] = []

    def one(arm: Arm) -> None:
        if time.time() > deadline:
            skipped.append(arm.name)
        elif arm.name == "bench_secagg":
            secagg_bench(out)
        else:
            federated(arm, common, out)

    with ThreadPoolExecutor(args.parallel) as pool:
        list(pool.map(one, arms))
    done_list = [arm.name for arm in arms if arm.name not in skipped]
    write_atomic(out / "skipped.txt", "".join(f"{name}\n" for name in skipped))
    print(f"{len(done_list)} arms run or read back, {len(skipped)} skipped (budget)", flush=True)
    tables = [sys.executable, "-m", "benchmarks.trust_tables", "--out", str(out)]
    run([*tables, "--commit", args.commit], "tables", out, REPO)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


if __name__ == "__main__":
    main()
