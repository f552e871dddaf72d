"""Hierarchical optimization and DGA: FedAvg (server SGD, lr 1) vs server Adam vs server Adam +
DGA (beta 1, 5, 20) (and FedAvg + DGA beta 1, 5, 20), on clean clients and with about a quarter
of the clients corrupted, over several seeds. Writes the tables (markdown, stdout) and a plot.

    python -m benchmarks.bench_dga --corpus CORPUS --out runs/bench_dga

CORPUS is a built corpus; if it does not exist yet, the first run synthesizes the small one
there (`data.synth_if_missing`). The run behind docs/results/dga.md (digits corpus, fewer
clients per round with more local steps, FedAvg and FedAvg + DGA only; build the corpus first
with `fedasr data synth --out corpora/digits --size small --vocab digits`):

    python -m benchmarks.bench_dga --corpus corpora/digits --out runs/bench_dga_digits2 \\
        --rounds 30 --eval-every 2 --seeds 0 1 2 --methods "FedAvg+DGA b=5" \\
        --plot docs/results/dga.png \\
        --set rounds.clients_per_round=4 client.local_epochs=2 client.batch_seconds=5

`--methods` picks arms (FedAvg, the baseline, is always run), `--conditions` clean and/or
corrupted, `--set` adds config overrides to every run, `--plot` where the plot goes (default
OUT/dga.png), `--lock` a lock to take turns with other heavy jobs on a shared machine (see
fl_bench.py). Server-Adam runs are named with their lr and tau, so an lr pilot sits in the
same --out and the chosen lr's runs are reused.

Per condition and seed, the target is FedAvg's best held-out WER; "rounds" is the first
evaluation at or below it, the speed-up is FedAvg's rounds ÷ the method's, and the WERR is
(FedAvg's final WER − the method's final WER) ÷ FedAvg's final WER. Runs already complete
are read back, not repeated (see fl_bench.py).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from benchmarks.fl_bench import (
    REPO,
    add_lock_argument,
    add_set_argument,
    finished,
    heavy_lock,
    markdown_table,
    run_once,
    spread,
)
from fedasr.config import load_config
from fedasr.report.metrics import (
    Run,
    best_point,
    final_point,
    load_run,
    rounds_to_reach,
    series,
    speedup,
    werr,
)

METRIC = "heldout_wer"
CORRUPT = (
    "partition.corrupt=[{share: 0.125, transcripts: shuffle},"
    " {share: 0.125, noise_snr_db: 0, speed: 1.25}]"
)


def methods(args: argparse.Namespace) -> dict[str, list[str]]:
    """The issue's five arms, plus DGA on plain FedAvg (server SGD) to see the weighting
    apart from the server optimizer; `args.methods`: these labels (FedAvg, the baseline,
    always). The server-Adam arms are an optimizer *pair*: `--adam-client-lr` gives them their
    own client learning rate (the cosine schedule's floor scaled with it)."""
    only = args.methods
    sgd = ["server.optimizer=sgd", "server.lr=1.0"]
    adam = ["server.optimizer=adam", f"server.lr={args.adam_lr}", f"server.tau={args.adam_tau}"]
    if args.adam_client_lr is not None:
        adam += [f"client.lr={args.adam_client_lr}",
                 f"client.lr_schedule.min_lr={args.adam_client_lr / 10:g}"]  # fmt: skip
    arms = {
        "FedAvg": sgd,
        "Adam": adam,
        "Adam+DGA b=1": [*adam, "algorithm={name: dga, beta: 1}"],
        "Adam+DGA b=5": [*adam, "algorithm={name: dga, beta: 5}"],
        "Adam+DGA b=20": [*adam, "algorithm={name: dga, beta: 20}"],
        "FedAvg+DGA b=1": [*sgd, "algorithm={name: dga, beta: 1}"],
        "FedAvg+DGA b=5": [*sgd, "algorithm={name: dga, beta: 5}"],
        "FedAvg+DGA b=20": [*sgd, "algorithm={name: dga, beta: 20}"],
    }
    unknown = set(only or []) - set(arms)
    if unknown:
        raise SystemExit(f"unknown method(s) {sorted(unknown)}; known: {list(arms)}")
    return {k: v for k, v in arms.items() if only is None or k == "FedAvg" or k in only}


CONDITIONS = {"clean": [], "corrupted": [CORRUPT]}


def common(args: argparse.Namespace) -> list[str]:
    return [
        f"data.corpus={args.corpus}",
        "data.synth_if_missing={size: small}",
        f"rounds.total={args.rounds}",
        f"eval.every={args.eval_every}",
        "eval.splits=[heldout]",
        "eval.max_utterances=null",
        f"executor.workers={args.workers}",
        "logging.tensorboard=false",
        "logging.progress=false",
        "logging.checkpoint_every=10",
        *args.set,
    ]


def slug(label: str) -> str:
    return label.lower().replace("+", "_").replace(" ", "").replace("=", "")


def run_name(condition: str, label: str, seed: int, args: argparse.Namespace) -> str:
    """The run's directory name; server-Adam arms carry their lr and tau, so runs with other
    settings (the lr pilot) sit beside them in the same --out."""
    adam = "server.optimizer=adam" in methods(args)[label]
    tag = f"-lr{args.adam_lr:g}-tau{args.adam_tau:g}" if adam else ""
    if adam and args.adam_client_lr is not None:
        tag += f"-clr{args.adam_client_lr:g}"
    return f"{condition}-{slug(label)}{tag}-s{seed}"


def run_grid(args: argparse.Namespace) -> dict[tuple[str, str, int], Run]:
    """Every (condition, seed) group of runs holds `--lock` (if given) once: a group is a few
    minutes, short enough for other heavy jobs to interleave between groups."""
    runs: dict[tuple[str, str, int], Run] = {}
    total = 0.0
    for condition in args.conditions:
        extra = CONDITIONS[condition]
        for seed in args.seeds:
            group = {
                label: [*common(args), *overrides, *extra, f"seed={seed}",
                        f"name={run_name(condition, label, seed, args)}",
                        f"run_dir={args.out / run_name(condition, label, seed, args)}"]
                for label, overrides in methods(args).items()
            }  # fmt: skip
            base = REPO / "configs" / "fedavg.yaml"
            todo = [o for o in group.values() if not finished(load_config(base, o))]
            with heavy_lock(args.lock if todo else None):
                for label, overrides in group.items():
                    run_dir, seconds = run_once(base, overrides)
                    total += seconds
                    runs[(condition, label, seed)] = load_run(run_dir, label)
    print(f"trained {total / 60:.1f} min in this call", flush=True)
    return runs


def mean_sd(values: list[float], fmt: str) -> str:
    """'mean ± sample standard deviation' over the seeds."""
    if len(values) < 2:
        return fmt.format(values[0]) if values else "—"
    sd = fmt.replace("+", "").format(statistics.stdev(values))
    return f"{fmt.format(statistics.mean(values))} ± {sd}"


def summarize(runs: dict[tuple[str, str, int], Run], args: argparse.Namespace) -> None:
    labels = list(methods(args))
    for condition in args.conditions:
        rows, raw = [], []
        for label in labels:
            finals, reach, speed, gains, shares = [], [], [], [], []
            for seed in args.seeds:
                base, run = (
                    runs[(condition, "FedAvg", seed)].records,
                    runs[(condition, label, seed)],
                )
                target = best_point(base, METRIC)
                base_final, final = final_point(base, METRIC), final_point(run.records, METRIC)
                assert target and base_final and final
                rounds = rounds_to_reach(run.records, METRIC, target.value)
                reach.append(rounds)
                speed.append(speedup(rounds_to_reach(base, METRIC, target.value), rounds))
                finals.append(100 * final.value)
                gains.append(100 * (werr(base_final.value, final.value) or 0.0))
                share = series(run.records, "corrupted_weight_share")
                shares.append(sum(p.value for p in share) / len(share) if share else None)
            row = [label, spread(finals, "{:.1f}"), mean_sd(finals, "{:.1f}"),
                   spread(reach, "{:.0f}"), spread(speed, "{:.2f}×"),
                   spread(gains, "{:+.1f} %"), mean_sd(gains, "{:+.1f}")]  # fmt: skip
            raw.append([label, *(f"{w:.1f} / {'n/r' if r is None else r}"
                                 for w, r in zip(finals, reach, strict=True))])  # fmt: skip
            if condition == "corrupted":
                row.append(spread(shares, "{:.3f}"))
            rows.append(row)
        header = ["method", "final held-out WER %", "mean ± sd", "rounds to FedAvg's best",
                  "speed-up", "final WERR vs FedAvg", "mean ± sd (%)"]  # fmt: skip
        if condition == "corrupted":
            header.append("corrupted clients' weight share")
        print(f"\n### {condition} ({len(args.seeds)} seeds: median (min–max))\n")
        print(markdown_table(header, rows))
        print(f"\nper seed ({condition}): final held-out WER % / rounds to FedAvg's best\n")
        print(markdown_table(["method", *(f"seed {s}" for s in args.seeds)], raw))


def plot(runs: dict[tuple[str, str, int], Run], args: argparse.Namespace, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(
        1, len(args.conditions), figsize=(5.5 * len(args.conditions), 4), sharey=True,
        squeeze=False,
    )  # fmt: skip
    axes = axes[0]
    for ax, condition in zip(axes, args.conditions, strict=True):
        for index, label in enumerate(methods(args)):
            curves = [series(runs[(condition, label, s)].records, METRIC) for s in args.seeds]
            steps = [p.step for p in curves[0]]
            values = np.array([[100 * p.value for p in curve] for curve in curves])
            ax.plot(steps, np.median(values, axis=0), color=f"C{index}", label=label)
            ax.fill_between(steps, values.min(0), values.max(0), color=f"C{index}", alpha=0.15)
        ax.set_title(f"{condition} clients")
        ax.set_xlabel("round")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("held-out WER (%)  median, min–max over seeds")
    axes[0].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"\nplot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, required=True,
        help="a built corpus (or where to synthesize the small one)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("runs/bench_dga"))
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--eval-every", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--adam-lr", type=float, default=0.003)
    parser.add_argument("--adam-tau", type=float, default=1e-4)
    parser.add_argument(
        "--adam-client-lr",
        type=float,
        default=None,
        help="client lr of the server-Adam arms (default: the config's)",
    )
    parser.add_argument("--workers", type=int, default=2)
    add_set_argument(parser)
    parser.add_argument("--conditions", nargs="+", choices=list(CONDITIONS),
                        default=list(CONDITIONS))  # fmt: skip
    parser.add_argument("--methods", nargs="+", help="only these arms (labels), and FedAvg")
    parser.add_argument("--plot", type=Path, default=None, help="default: OUT/dga.png")
    add_lock_argument(parser)
    args = parser.parse_args()
    runs = run_grid(args)
    summarize(runs, args)
    plot(runs, args, args.plot or args.out / "dga.png")


if __name__ == "__main__":
    main()
