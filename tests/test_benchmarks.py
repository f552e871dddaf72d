"""The benchmarks keep working when the engine changes: every module imports, every command line
parses (`--help`), none edits sys.path or names a machine path, and the cheapest benchmarks run
end to end on the mini corpus (a few rounds of a tiny model) through the public API."""

from __future__ import annotations

import importlib
import re
import runpy
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
MODULES = sorted(p.stem for p in (REPO / "benchmarks").glob("*.py") if p.stem != "__init__")
HELPERS = {"engine_bench", "fl_bench", "flower_shared", "flower_apps", "doc_splice"}  # no CLI
NEEDS_FLOWER = {"flower_apps"}  # imports flwr (its own venv: benchmarks/flower-requirements.txt)
SCRIPTS = sorted((REPO / "scripts").glob("*"))
MACHINE_PATH = re.compile(r"sys\.path|/work/|/tmp/|/home/|/root/|/usr/bin/|/opt/")


@pytest.fixture(autouse=True)
def _keep_torch_threads() -> Iterator[None]:
    """Benchmarks pin torch to one thread; the rest of the suite keeps its own setting."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def benchmark(name: str) -> object:
    return importlib.import_module(f"benchmarks.{name}")


@pytest.mark.parametrize("name", sorted(NEEDS_FLOWER))
def test_the_flower_apps_compile_without_flower(name: str) -> None:
    """Flower lives in its own venv (benchmarks/flower-requirements.txt): here the module is
    compiled, not imported, so the suite neither needs flwr nor skips a test."""
    source = (REPO / "benchmarks" / f"{name}.py").read_text()
    compile(source, f"{name}.py", "exec")


def run_main(name: str, *args: str) -> None:
    """Run a benchmark's main() in this process, as `python -m benchmarks.NAME ARGS` would."""
    main: Callable[[], None] = getattr(benchmark(name), "main")  # noqa: B009
    argv = sys.argv
    sys.argv = [f"benchmarks.{name}", *args]
    try:
        main()
    finally:
        sys.argv = argv


@pytest.mark.parametrize("name", sorted(set(MODULES) - NEEDS_FLOWER))
def test_every_benchmark_imports(name: str) -> None:
    module = benchmark(name)
    assert name in HELPERS or callable(getattr(module, "main", None)), f"{name} has no main()"


@pytest.mark.parametrize("name", sorted(set(MODULES) - HELPERS))
def test_every_benchmark_prints_its_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        run_main(name, "--help")
    assert done.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_benchmarks_run_as_modules_from_the_repository_root() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.round_match", "--help"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "--ref" in done.stdout


def test_scripts_parse(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for script in (s for s in SCRIPTS if s.suffix == ".sh"):
        done = subprocess.run(
            ["bash", "-n", str(script)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"{script.name}: {done.stderr}"
    monkeypatch.setattr(sys, "argv", ["early_exit_tables.py", "--help"])
    with pytest.raises(SystemExit) as done_py:
        runpy.run_path(str(REPO / "scripts" / "early_exit_tables.py"), run_name="__main__")
    assert done_py.value.code == 0 and "usage:" in capsys.readouterr().out


@pytest.mark.parametrize(
    "path", [REPO / "benchmarks" / f"{m}.py" for m in MODULES] + SCRIPTS, ids=lambda p: p.name
)
def test_no_sys_path_edits_or_machine_paths(path: Path) -> None:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if number == 1 and line.startswith("#!"):
            continue  # the interpreter line (#!/usr/bin/env bash)
        assert not MACHINE_PATH.search(line), f"{path.name}:{number}: {line.strip()}"


# ----------------------------------------------------------------------------- end to end
def test_bench_overhead_runs_on_the_mini_corpus(
    mini_corpus: Path, tiny_model: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The FL run and the plain loop over the engine's batch plan take the same steps (the
    benchmark exits with 'different work' otherwise)."""
    run_main(
        "bench_overhead", "--corpus", str(mini_corpus), "--regime", "real", "--runs", "1",
        "--set", "rounds.clients_per_round=2", *tiny_model,
    )  # fmt: skip
    out = capsys.readouterr().out
    assert re.search(r"real run 1: FL .* ratio [0-9.]+ \([1-9][0-9]* steps, 4 client updates", out)
    assert "| real |" in out


def test_bench_executors_runs_on_the_mini_corpus(
    mini_corpus: Path, tiny_model: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    run_main(
        "bench_executors", "--corpus", str(mini_corpus), "--executors", "serial",
        "--cohort", "2", "--steps", "1", "--rounds", "2", "--set", *tiny_model,
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "| serial | 1 |" in out
    assert "bit-identical across executors: True" in out


def test_fl_benchmarks_run_and_read_back_on_the_mini_corpus(
    mini_corpus: Path, tiny_model: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """bench_dga trains its arms through run_federated, then round_match and
    weight_displacement read the runs it wrote."""
    out = tmp_path / "dga"
    run_main(
        "bench_dga", "--corpus", str(mini_corpus), "--out", str(out), "--rounds", "2",
        "--eval-every", "1", "--seeds", "0", "--conditions", "clean",
        "--methods", "FedAvg+DGA b=5", "--lock", str(tmp_path / "lock"),
        "--set", "executor.kind=serial", "rounds.clients_per_round=2", "rounds.min_clients=1",
        "eval.max_utterances=4", *tiny_model,
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert "| FedAvg+DGA b=5 |" in printed
    assert (out / "dga.png").is_file()
    runs = sorted(p for p in out.iterdir() if (p / "model.safetensors").is_file())
    assert [p.name for p in runs] == ["clean-fedavg-s0", "clean-fedavg_dgab5-s0"]
    run_main("round_match", "--ref", str(runs[0]), str(runs[1]), "--wer", "100")
    assert "| clean-fedavg_dgab5-s0 |" in capsys.readouterr().out
    run_main("weight_displacement", *map(str, runs))
    assert str(runs[1]) in capsys.readouterr().out
