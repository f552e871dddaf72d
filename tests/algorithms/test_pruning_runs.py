"""Federated pruning in real (tiny) runs: FedAvg at sparsity 0, frozen masks in fine-tuning,
refining that revives a group, nested tier masks, serial = process executor, resume mid-schedule
(fedasr.algorithms.pruning)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from fedasr.algorithms.base import ClientTask
from fedasr.algorithms.pruning.server import KEEP, SCORE, SEEN, STASH, _on_remembered_scale
from fedasr.algorithms.registry import build_algorithm
from fedasr.algorithms.spec import MAIN
from fedasr.config import load_config
from fedasr.engine.executors import make_executor
from fedasr.engine.rundir import read_metrics
from fedasr.errors import ConfigError
from fedasr.experiment import build_run
from fedasr.models.dims import ConformerDims
from fedasr.models.flat import FlatModel

# round 0 dense, 1 pruning, 2-3 refining, then fine-tuning
PRUNING = (
    "algorithm.name=pruning",
    "algorithm.sparsity=0.5",
    "algorithm.phases={prune: [1, 2], refine: [2, 4]}",
    "algorithm.refine_every=1",
    "rounds.clients_per_round=3",
    "eval.every=10",
)
TIERS = (
    "devices.tiers={low: {flops_per_s: 1.0e9, downlink_bytes_per_s: 1.0e6, "
    "uplink_bytes_per_s: 2.5e5, sparsity: 0.75, max_depth: 2}, mid: {flops_per_s: 1.0e9, "
    "downlink_bytes_per_s: 1.0e6, uplink_bytes_per_s: 2.5e5, sparsity: 0.5}, "
    "high: {flops_per_s: 1.0e9, downlink_bytes_per_s: 1.0e6, uplink_bytes_per_s: 2.5e5}}",
    "devices.shares={low: 1, mid: 1, high: 1}",
)


ONE_LAYER = ConformerDims(
    n_mels=16, d_model=16, heads=2, head_size=4, ffn=8, conv_channels=8, conv_kernel=3,
    layers=1, exits=(1,), vocab=6, subsampling_channels=4, dropout=0.0,
)  # fmt: skip


def same_state(a: Any, b: Any) -> None:
    for part in ("params", "optimizer", "extras"):
        left, right = getattr(a, part), getattr(b, part)
        assert left.keys() == right.keys(), part
        for key in left:
            assert torch.equal(left[key], right[key]), f"{part}.{key}"


def test_pruning_at_sparsity_zero_is_fedavg_bit_for_bit(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fedavg = build_run(tiny_config(f"run_dir={tmp_path / 'f'}", "rounds.total=3"), progress=False)
    fedavg.execute()
    zero = ("rounds.total=3", *PRUNING, "algorithm.sparsity=0")
    pruning = build_run(tiny_config(f"run_dir={tmp_path / 'p'}", *zero), progress=False)
    pruning.execute()
    assert torch.equal(fedavg.server.main, pruning.server.main)


def test_fine_tuning_leaves_pruned_coordinates_unchanged(tiny_config) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config("rounds.total=5", *PRUNING, "algorithm.phases.refine=null")
    run = build_run(config, progress=False)
    structure = run.algorithm.server.structure  # type: ignore[attr-defined]
    with run.executing():
        run.run_round(0)  # dense; makes round 1's mask (pruning)
        keep = run.server.extras[KEEP].clone()
        zero = structure.zero_mask(keep)
        assert 0.45 < zero[structure.prunable_mask()].float().mean() < 0.55
        pruned_at = run.server.main.clone()
        stash = run.server.extras[STASH].clone()
        assert bool((pruned_at[zero] == 0).all()) and bool((stash[zero] != 0).any())
        for r in range(1, 5):  # pruning once, then fine-tuning
            run.run_round(r)
            assert torch.equal(run.server.extras[KEEP], keep)
            assert bool((run.server.main[zero] == 0).all())
            assert torch.equal(run.server.extras[STASH], stash)
    assert bool((run.server.main[~zero] != pruned_at[~zero]).float().mean() > 0.5)
    records = read_metrics(config.resolved_run_dir())
    phases = [r["server_pruning"]["phase"] for r in records]
    assert phases == ["dense", "prune", "finetune", "finetune", "finetune"]
    dense_up, pruned_up = records[0]["cost"]["bytes_up"], records[2]["cost"]["bytes_up"]
    held = records[2]["server_pruning"]["pruned"]["held_params"]
    assert pruned_up == 4 * held * records[2]["clients"]["succeeded"] < dense_up


def test_refining_revives_a_column_whose_score_rose() -> None:
    dims = ONE_LAYER
    config = load_config(
        None,
        [*PRUNING, "algorithm.score=taylor", "algorithm.prunable=[ffn]", "rounds.total=6"],
    )
    server = build_algorithm(config, dims).server
    state = server.init({MAIN: FlatModel(dims, seed=0).flat.clone()})
    groups = server.structure.groups  # type: ignore[attr-defined]
    scores = torch.arange(1.0, groups + 1, dtype=torch.float64)  # ffn1 units 0..7, ffn2 8..15
    state = replace(state, extras={**state.extras, SCORE: scores, SEEN: torch.ones(groups).bool()})
    pruned, _ = server._next_masks(state, 1)  # type: ignore[attr-defined]
    keep = pruned.extras[KEEP]
    assert keep[:8].tolist() == [False] * 4 + [True] * 4  # the four lowest of ffn1 go
    risen = scores.clone()
    risen[2] = 100.0  # unit 2 of ffn1 now beats every kept unit
    risen_state = replace(pruned, extras={**pruned.extras, SCORE: risen})
    stays, _ = server._next_masks(risen_state, 1)  # still pruning: pruned groups stay pruned
    assert not bool(stays.extras[KEEP][2])
    refined, changes = server._next_masks(risen_state, 2)  # refining
    assert bool(refined.extras[KEEP][2]) and not bool(refined.extras[KEEP][4])
    assert changes == {"revived": 1, "newly_pruned": 1}
    block = server.structure.blocks[0]  # type: ignore[attr-defined]
    back, out = block.unit_coords[2], block.unit_coords[4]
    assert torch.equal(refined.main[back], pruned.extras[STASH][back])  # its values return
    assert bool((refined.main[back] != 0).all()) and bool((refined.main[out] == 0).all())
    assert torch.equal(refined.extras[STASH][out], pruned.main[out])  # the displaced one waits


def test_shrinking_taylor_scores_of_the_kept_columns_revive_nothing() -> None:
    """Once a block is pruned, clients score only its kept (high) groups. Scores that fell
    by the same factor for every kept group (the loss fell) must leave the ranking against the
    pruned groups' remembered scores as it was: nothing comes back."""
    config = load_config(
        None, [*PRUNING, "algorithm.score=taylor", "algorithm.prunable=[ffn]", "rounds.total=6"]
    )
    server = build_algorithm(config, ONE_LAYER).server
    state = server.init({MAIN: FlatModel(ONE_LAYER, seed=0).flat.clone()})
    structure = server.structure  # type: ignore[attr-defined]
    scores = torch.arange(1.0, structure.groups + 1, dtype=torch.float64)
    seen = torch.ones(structure.groups).bool()
    state = replace(state, extras={**state.extras, SCORE: scores, SEEN: seen})
    pruned, _ = server._next_masks(state, 1)  # type: ignore[attr-defined]
    keep = pruned.extras[KEEP]
    fresh = torch.where(keep, 0.1 * scores, torch.zeros_like(scores))  # only kept groups scored
    rescaled = _on_remembered_scale(structure, fresh, keep, scores, seen)
    assert torch.allclose(rescaled[keep], scores[keep])
    blended = torch.where(keep, 0.5 * scores + 0.5 * rescaled, scores)
    refined, changes = server._next_masks(  # type: ignore[attr-defined]
        replace(pruned, extras={**pruned.extras, SCORE: blended}), 2
    )
    assert changes == {"revived": 0, "newly_pruned": 0}
    assert torch.equal(refined.extras[KEEP], keep)
    first = _on_remembered_scale(structure, scores, seen, scores, ~seen)  # nothing seen yet
    block = structure.blocks[0]
    assert float(first[block.first : block.first + block.groups].mean()) == pytest.approx(1.0)


def test_a_skipped_round_does_not_shift_the_schedule() -> None:
    server = build_algorithm(load_config(None, [*PRUNING, "rounds.total=4"]), ONE_LAYER).server
    state = server.init({MAIN: FlatModel(ONE_LAYER, seed=0).flat.clone()})
    assert bool(state.extras[KEEP].all())  # round 0 is dense
    # round 0 aggregated nothing (too few clients): the loop only moved the round on
    skipped = replace(state, round=1)
    task = ClientTask("c", 0, np.arange(2), round=1, seed=0)
    assert server.spec_for(skipped, task).coords == "pruned"  # round 1 prunes, as scheduled
    broadcast = server.broadcast(skipped, 1, 0.003)
    caught_up = server.current(skipped)
    assert not bool(caught_up.extras[KEEP].all())
    assert torch.equal(broadcast.coords["pruned"], server.view(caught_up.extras[KEEP]).index)
    assert torch.equal(broadcast.params[MAIN], caught_up.main)  # the zeroed parameters


def test_tiers_train_nested_masks_and_send_less(tiny_config) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config("rounds.total=4", *PRUNING, "algorithm.sparsity=0.25", *TIERS)
    run = build_run(config, progress=False)
    run.execute()
    extras = run.server.extras
    assert bool((extras[KEEP + ".mid"] <= extras[KEEP]).all())
    assert bool((extras[KEEP + ".low"] <= extras[KEEP + ".mid"]).all())
    records = read_metrics(config.resolved_run_dir())
    for record in records[1:]:
        masks = record["server_pruning"]
        assert masks["pruned.low"]["sparsity"] >= 0.7 and masks["pruned.mid"]["sparsity"] >= 0.45
        assert (
            masks["pruned.low"]["held_params"]
            < masks["pruned.mid"]["held_params"]
            < masks["pruned"]["held_params"]
        )
    tiers = records[-1]["devices"]["tiers_cumulative"]
    per_client = {
        t: row["bytes_up"] / row["succeeded"] for t, row in tiers.items() if row["succeeded"]
    }
    assert per_client["low"] < per_client["mid"] < per_client["high"]


def test_serial_and_process_executors_give_the_same_pruned_run(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    common = (
        "rounds.total=4", *PRUNING, *TIERS, "algorithm.score=taylor",
        "algorithm.pattern=half", "algorithm.allocation=adaptive", "executor.shards=3",
    )  # fmt: skip
    states = []
    for kind in ("serial", "process"):
        config = tiny_config(f"run_dir={tmp_path / kind}", *common, f"executor.kind={kind}")
        run = build_run(config, progress=False)
        run.execute()
        states.append(run.server)
    assert bool(states[0].extras[SEEN].any())  # client scores arrived
    same_state(states[0], states[1])


def test_resume_mid_refining_is_bit_identical(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    common = (
        "rounds.total=5", *PRUNING, "algorithm.score=taylor", "server.optimizer=adam",
        "server.lr=0.01",
    )  # fmt: skip
    straight = build_run(tiny_config(f"run_dir={tmp_path / 'straight'}", *common), progress=False)
    straight.execute()
    config = tiny_config(f"run_dir={tmp_path / 'killed'}", *common)
    killed = build_run(config, progress=False)
    killed.executor = make_executor("serial", killed.parts.worker, 1)
    for r in range(3):  # dense, pruning, first refining round; checkpointed after each
        killed.run_round(r)
    killed.executor.close()
    del killed
    resumed = build_run(config, resume=True, progress=False)
    assert resumed.state.round == 3
    resumed.execute()
    same_state(straight.server, resumed.server)
    revived = [r["server_pruning"]["revived"] for r in read_metrics(config.resolved_run_dir())]
    assert len(revived) == 5


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (("server.fallback_to_best=true",), "server.fallback_to_best"),
        (("algorithm.schedule={kind: step, delta: 0.1, every: 1}",), "schedule"),
        (("algorithm.score=taylor", "algorithm.phases={prune: [0, 1]}"), "taylor"),
        (("algorithm.pattern=diagonal",), "algorithm.pattern"),
    ],
)
def test_bad_pruning_configs_name_the_key(tiny_config, overrides, named) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=named):
        build_run(tiny_config("rounds.total=1", *PRUNING, *overrides), progress=False)


def test_a_tier_sparsity_needs_the_pruning_algorithm(tiny_config) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=r"devices\.tiers\.low\.sparsity.*pruning"):
        tiny_config(*TIERS)
