"""Memory stays flat with the number of registered clients (the small-scale version of
benchmarks/bench_scale.py): registering a client costs a few bytes, and a round's memory
depends on the cohort, never on how many clients are registered."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

from fedasr.experiment import build_run
from fedasr.experiment.setup import build_registry

# a registered client's floor: its id string (~60 B), tuple slot, offset, frame count, 2 rows
REGISTRY_BYTES_PER_CLIENT = 150
ROUND_BYTES_PER_CLIENT = 50  # a round may not hold anything per registered client


def population(tiny_config: Callable[..., Any], clients: int, name: str) -> Any:
    return tiny_config(
        "partition.scheme=draw",
        f"partition.params={{num_clients: {clients}, per_client: 2}}",
        f"run_dir={name}",
        "rounds.clients_per_round=3",
        "eval.splits=[]",
    )


def traced(action: Callable[[], Any]) -> tuple[Any, int, int]:
    """(result, bytes still held after, peak bytes during) of Python and numpy allocations."""
    gc.collect()
    tracemalloc.start()
    try:
        result = action()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, held, peak


def test_registering_a_client_costs_a_few_bytes(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = build_run(population(tiny_config, 10, str(tmp_path / "setup")), progress=False)
    held = {}
    for clients in (100, 5000):
        config = population(tiny_config, clients, str(tmp_path / f"r{clients}"))
        registry, held[clients], _ = traced(lambda c=config: build_registry(c, run.parts.bundle))
        assert len(registry) == clients
    per_client = (held[5000] - held[100]) / 4900
    assert per_client < REGISTRY_BYTES_PER_CLIENT, f"{per_client:.0f} B per registered client"


def round_peak(tiny_config: Callable[..., Any], clients: int, path: str) -> int:
    run = build_run(population(tiny_config, clients, path), progress=False)
    with run.executing():
        run.run_round(0)  # the worker is built in the first round
        _, _, peak = traced(lambda: run.run_round(1))
    return peak


def test_round_memory_does_not_grow_with_registered_clients(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    few = round_peak(tiny_config, 100, str(tmp_path / "few"))
    many = round_peak(tiny_config, 5000, str(tmp_path / "many"))
    per_client = (many - few) / 4900
    assert per_client < ROUND_BYTES_PER_CLIENT, f"{per_client:.0f} B per registered client"
