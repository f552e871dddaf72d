"""`fedasr tune CONFIG --space SPACE.yaml`: hyper-parameter search with Optuna."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fedasr.cli.errors import user_errors
from fedasr.cli.logging_setup import setup_logging
from fedasr.cli.run import OverridesArg, QuietOpt

console = Console()

SPACE_EXAMPLE = """\
params:
  client.lr: {type: float, low: 3.0e-4, high: 1.0e-2, log: true}
  server.lr: {type: float, low: 0.5, high: 2.0}
  client.local_epochs: {type: int, low: 1, high: 4}
  rounds.clients_per_round: {type: categorical, choices: [2, 4, 8]}
  client.variational_noise.std: {type: float, low: 0.0, high: 0.1}
  client.variational_noise.start_round: {type: int, low: 1, high: 20}"""
EPILOG = "\n\n".join([
    "[bold]Search space[/] (--space): YAML with one key, `params:`, mapping dotted config keys "
    "to distributions, as in configs/tune/quality_cost_p0.yaml (with variational noise: "
    "configs/tune/quality_cost_p0_noise.yaml):",
    SPACE_EXAMPLE,
    "Types: float and int take low, high and optionally `log: true` or a `step`; categorical "
    "takes `choices` (numbers, strings, booleans, null). Each bound and choice is validated "
    "against CONFIG before any trial runs.",
    "[bold]Objectives[/] (all minimized): wer_at_budget = --metric where --budget (in --unit) "
    "is spent: the run stops after that round and its model is scored. cost_to_target = the "
    "cost (in --unit) until --metric first reaches --target, linear in cost between the "
    "evaluations around it; not reached = infinity. both = the two at once (Pareto front; "
    "Optuna cannot prune it). Units: examples (cost C: client example-passes), audio_hours, "
    "flops, bytes_up, bytes_down, bytes, sim_hours (with devices:), rounds, wall_hours.",
    "[bold]Pruning[/]: with --budget, trials report the latest evaluated --metric at each "
    "1/--prune-steps of the budget, so they are compared at equal cost; without, at each "
    "evaluated round.",
    "[bold]Study[/]: trials are run directories STUDY_DIR/trials/trial-NNNN; the study is "
    "STUDY_DIR/study.db (SQLite) unless --storage names another Optuna storage URL. Run the "
    "same command again to resume: finished trials are kept, an interrupted one is retried "
    "and its run resumes from its checkpoint; --n-trials counts the study's finished trials. "
    "Each trial records its cost in every unit (user attribute `cost`). Trials run one at a "
    "time, also with a Ray executor (each trial's clients use the cluster).",
])  # fmt: skip


@user_errors
def tune_command(
    config: Annotated[Path, typer.Argument(help="Experiment YAML every trial starts from.")],
    space: Annotated[Path, typer.Option(help="Search-space YAML (format below).")],
    overrides: OverridesArg = None,
    study_dir: Annotated[
        Path | None, typer.Option(help="Where trials and study.db go (default runs/tune/NAME).")
    ] = None,
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL (default sqlite in --study-dir).")
    ] = None,
    study_name: Annotated[str | None, typer.Option(help="Default: the study dir's name.")] = None,
    n_trials: Annotated[int, typer.Option(help="Finished trials the study should hold.")] = 20,
    objective: Annotated[
        str, typer.Option(help="wer_at_budget, cost_to_target or both.")
    ] = "wer_at_budget",
    metric: Annotated[
        str | None, typer.Option(help="Validation metric (default: CONFIG's eval.metric).")
    ] = None,
    unit: Annotated[
        str, typer.Option(help="Cost unit of --budget and of the cost to target.")
    ] = "examples",
    budget: Annotated[float | None, typer.Option(help="Cost budget in --unit.")] = None,
    target: Annotated[float | None, typer.Option(help="Target --metric, e.g. 0.3.")] = None,
    pruner: Annotated[str, typer.Option(help="median, hyperband or none.")] = "median",
    prune_steps: Annotated[
        int, typer.Option(help="With --budget: budget checkpoints trials are compared at.")
    ] = 10,
    prune_startup: Annotated[
        int, typer.Option(help="median: finished trials before any is pruned.")
    ] = 3,
    sampler: Annotated[str, typer.Option(help="tpe or random.")] = "tpe",
    seed: Annotated[int, typer.Option(help="Sampler seed.")] = 0,
    heartbeat_s: Annotated[
        int | None,
        typer.Option(
            help="Heartbeat for storages shared by several machines: a trial silent "
            "for 4 beats is retried."
        ),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Search hyper-parameters of CONFIG with Optuna: WER at a cost budget, cost to a target
    WER, or both (Pareto front); poor trials pruned; plots of the search."""
    import optuna

    from fedasr.config import load_config
    from fedasr.tune.objective import TuneSpec
    from fedasr.tune.results import trial_rows
    from fedasr.tune.session import open_session
    from fedasr.tune.study import StudyPlace

    setup_logging()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # fedasr logs each trial itself
    fixed = list(overrides or [])
    base = load_config(config, fixed)
    spec = TuneSpec(
        objective, metric or base.eval.metric, unit, budget, target,  # type: ignore[arg-type]
        pruner, prune_steps, prune_startup,
    )  # fmt: skip
    place = StudyPlace(study_dir or Path("runs/tune") / base.name, storage, study_name, heartbeat_s)
    session = open_session(config, fixed, space, spec, place, sampler, seed, not quiet)
    # a polite kill (SIGTERM) is an interruption like Ctrl-C: the trial is retried on resume
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        session.run(n_trials)
    finally:
        signal.signal(signal.SIGTERM, previous)
    console.print(_table(*trial_rows(session.study, spec)))
    best, plots = session.write_outcome()
    console.print(f"{len(best)} best trial(s) (*) -> {place.study_dir / 'best.yaml'}; "
                  f"{len(plots)} plots -> {place.study_dir / 'plots'}; study: {place.url}",
                  soft_wrap=True)  # fmt: skip


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _table(headers: list[str], cells: list[list[str]]) -> Table:
    table = Table(title="trials (* best)")
    for header in headers:
        table.add_column(header, justify="right", overflow="fold")
    for row in cells:
        table.add_row(*row)
    return table
