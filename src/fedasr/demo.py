"""`fedasr demo`: the main job on the embedded corpus, within a wall-clock budget.

Builds the default corpus if missing, trains the centralized baseline, FedAvg and FedAdam on
speaker clients (each gets an equal share of the remaining time; every run ends with a full
evaluation), and writes one HTML report comparing the three.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from fedasr.config import load_config
from fedasr.data.bundle import ensure_corpus, load_data
from fedasr.errors import ConfigError

log = logging.getLogger(__name__)
RUNS = ("centralized", "fedavg", "fedadam")
MARKER = ".fedasr-demo"


@dataclass
class DemoResult:
    runs: list[Path]
    report: Path
    seconds: float


def configs_dir() -> Path:
    """The repository's configs/ (the demo runs from a source checkout, as `make demo` does)."""
    candidates = [Path.cwd() / "configs", Path(__file__).resolve().parents[2] / "configs"]
    for candidate in candidates:
        if (candidate / "demo").is_dir():
            return candidate
    raise ConfigError("fedasr demo: configs/demo not found; run it from the fedasr checkout")


def set_aside_previous_demo(out: Path) -> None:
    """A previous demo in OUT is renamed OUT.previous-<time> (nothing is deleted); a directory
    holding anything else is refused."""
    if not out.exists() or not any(out.iterdir()):
        return
    earlier = (out / MARKER).is_file() or all((out / run / "config.yaml").is_file() for run in RUNS)
    if not earlier:
        raise ConfigError(
            f"--out {out}: holds files that are not a fedasr demo; choose another --out"
        )
    aside = out.with_name(f"{out.name}.previous-{time.strftime('%Y%m%d-%H%M%S')}")
    out.rename(aside)
    log.info("the previous demo in %s is kept as %s", out, aside)


def run_demo(
    minutes: float = 10.0, out: Path = Path("runs/demo"), progress: bool = True
) -> DemoResult:
    from fedasr.experiment import run_federated
    from fedasr.experiment.central import train_centralized
    from fedasr.report.build import write_report

    started = time.perf_counter()
    set_aside_previous_demo(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by `fedasr demo`\n")
    base = [f"run_dir={out}/{{name}}"]
    data = load_config(configs_dir() / "demo" / "fedavg.yaml", base).data
    ensure_corpus(data)
    load_data(data, out / ".tokenizer", progress=progress)  # validate and extract features once
    share = (60 * minutes - (time.perf_counter() - started)) / len(RUNS) * 0.9 / 60
    log.info("each run gets %.1f min of training", share)
    for name in RUNS:
        key = "central.time_budget_min" if name == "centralized" else "rounds.time_budget_min"
        config = load_config(configs_dir() / "demo" / f"{name}.yaml", [*base, f"{key}={share}"])
        if name == "centralized":
            train_centralized(config, progress=progress)
        else:
            run_federated(config, progress=progress)
    # FedAvg first: the report measures FedAdam's speed-up and WERR against it.
    runs = [out / "fedavg", out / "fedadam", out / "centralized"]
    report = write_report(runs, out)
    return DemoResult(runs, report.html, time.perf_counter() - started)
