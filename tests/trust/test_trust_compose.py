"""Trust composes with the algorithm it wraps: FedNova's rescaling still applies after robust
aggregation, and an attacker's update is exactly what its attack says, built on the worker."""

from __future__ import annotations

from typing import Any

import torch

from fedasr.experiment import build_run
from fedasr.models.flat import FlatModel
from fedasr.trust import server_steps

NO_OP_CLIP = "trust.robust={kind: mean, clip: {mode: fixed, bound: 1.0e9}}"


def final(config):  # type: ignore[no-untyped-def]
    run = build_run(config, progress=False)
    run.execute()
    return run.server.main


def test_robust_aggregation_keeps_fednovas_rescaling(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    common = ("algorithm={name: fednova}", "client.optimizer=sgd", "client.lr=0.05")
    nova = final(tiny_config(f"run_dir={tmp_path / 'a'}", *common))
    robust = final(tiny_config(f"run_dir={tmp_path / 'b'}", *common, NO_OP_CLIP))
    # the same weighted mean of step-normalized updates, summed in another order, times tau_eff
    assert torch.allclose(nova, robust, atol=1e-6, rtol=0)


def test_a_kept_update_leaves_the_inner_folds_other_aggregates(tiny_config) -> None:  # type: ignore[no-untyped-def]
    from fedasr.algorithms.base import ClientCost, ClientResult, RoundAccumulator
    from fedasr.algorithms.fedavg import CountWeighting
    from fedasr.algorithms.fednova import STEPS, FedNovaClient
    from fedasr.algorithms.spec import MAIN
    from fedasr.models.factory import model_dims
    from fedasr.trust import keys
    from fedasr.trust.algorithm import TrustClient
    from fedasr.trust.schema import parse_trust

    section = parse_trust({"robust": {"kind": "median"}})
    dims = model_dims(tiny_config().model, 32, 80)  # for target_model attacks only
    client = TrustClient(FedNovaClient(CountWeighting("examples")), section, 0, dims)
    acc = RoundAccumulator({MAIN: 4})
    for name, steps, examples in (("a", 2.0, 3), ("b", 5.0, 6)):
        delta = torch.full((4,), steps)
        result = ClientResult(name, delta, examples, 10, 1.0, ClientCost(), stats={STEPS: steps})
        assert client.fold(acc, result).ok
    assert [k.client_id for k in acc.kept[keys.KEPT]] == ["a", "b"]
    assert "delta" not in acc.sums  # diverted, not summed
    tau_eff, _ = acc.weighted(STEPS, numel=1).mean()  # FedNova's step counts are still there
    assert float(tau_eff[0]) == (3 * 2.0 + 6 * 5.0) / 9


def test_a_target_model_attacker_sends_boost_x_its_target(tiny_config, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen: list[dict[str, Any]] = []
    robust = server_steps.robust_aggregate

    def spy(updates, weights, section, clip_state=None):  # type: ignore[no-untyped-def]
        seen.append({"updates": [u.clone() for u in updates]})
        return robust(updates, weights, section, clip_state)

    monkeypatch.setattr(server_steps, "robust_aggregate", spy)
    attack = "trust.attacks=[{kind: target_model, clients: [flite-05], target_seed: 7, boost: 3}]"
    config = tiny_config("rounds.total=1", "rounds.clients_per_round=4", NO_OP_CLIP, attack)
    run = build_run(config, progress=False)
    start = run.server.main.clone()
    run.execute()
    ids = sorted(run.parts.registry.ids)  # kept updates arrive in client-index order
    updates = seen[0]["updates"]
    position = list(run.parts.registry.ids).index("flite-05")
    assert ids == list(run.parts.registry.ids)
    target = FlatModel(run.dims, seed=7).flat
    assert torch.equal(updates[position], 3 * (start - target))
    honest = [u for i, u in enumerate(updates) if i != position]
    assert all(float(u.norm()) < float(updates[position].norm()) for u in honest)
