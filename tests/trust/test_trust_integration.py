"""Trust's config errors name the key before anything is written, and with SecAgg on, the
server side of a real run never handles one client's unmasked update."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from fedasr.errors import ConfigError
from fedasr.experiment import build_run, run_federated
from fedasr.trust import server_steps
from fedasr.trust.secagg import SecureSum
from fedasr.trust.secagg.messages import KeyAdvert, MaskedUpdate, SealedShares, UnmaskReply
from fedasr.trust.secagg.server import SecAggServer


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["trust.robust.kindd=median"], "trust.robust.kindd"),
        (["trust.robust.kind=mode"], "trust.robust.kind"),
        (["trust.attacks=[{kind: scale, rate: 0.2}]"], "trust.attacks.0"),
        (["trust.attacks=[{kind: sign_flip, clients: [nobody]}]"], "trust.attacks.0.clients"),
        (["trust.dp={noise_multiplier: 1}", "algorithm={name: dga}"], "trust.dp"),
        (["trust.dp={noise_multiplier: 1}", "trust.robust.kind=median"], "trust"),
        (["trust.robust.kind=median", "client.depth=1"], "client.depth"),
        (["trust.secagg={max_weight: 1}"], "trust.secagg.max_weight"),
        (["trust.dp={noise_multiplier: 1, adaptive: {}}"], "trust.dp.adaptive.count_noise"),
        (
            ["trust.dp={noise_multiplier: 0.3, target_epsilon: 0.01, target_action: stop}"],
            "trust.dp.target_epsilon",
        ),
    ],
)
def test_a_bad_trust_config_names_the_key_and_writes_nothing(tiny_config, overrides, key) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config = tiny_config(*overrides)
        build_run(config, progress=False)
    assert not tiny_config().resolved_run_dir().exists()


def _record_server_inputs(monkeypatch) -> list[object]:  # type: ignore[no-untyped-def]
    """Every argument any SecAgg server method receives, in order."""
    seen: list[object] = []
    for name in ("receive_adverts", "route_shares", "receive_masked", "unmask"):
        original = getattr(SecAggServer, name)

        def spy(self, items, _original=original):  # type: ignore[no-untyped-def]
            seen.extend(items)
            return _original(self, items)

        monkeypatch.setattr(SecAggServer, name, spy)
    return seen


def test_with_secagg_the_aggregation_gets_only_the_secure_sum(tiny_config, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    inputs: list[torch.Tensor] = []
    sums: list[Any] = []
    secure_round = server_steps.secure_round

    def clients(kept, *args, **kwargs):  # type: ignore[no-untyped-def]
        inputs.extend(update.vector for update in kept)  # what the clients feed the protocol
        return secure_round(kept, *args, **kwargs)

    def aggregation(total):  # type: ignore[no-untyped-def]
        sums.append(total)
        return secure_pseudo_gradient(total)

    secure_pseudo_gradient = server_steps.secure_pseudo_gradient
    monkeypatch.setattr(server_steps, "secure_round", clients)
    monkeypatch.setattr(server_steps, "secure_pseudo_gradient", aggregation)
    seen = _record_server_inputs(monkeypatch)
    config = tiny_config("rounds.total=1", "algorithm.weighting=uniform", "trust.secagg={}")
    run_federated(config, progress=False)
    assert len(sums) == 1 and isinstance(sums[0], SecureSum)
    update = sums[0].values["update"]
    assert len(inputs) == 3
    assert np.allclose(update, sum(v.double().numpy() for v in inputs), atol=1e-5)
    for vector in inputs:  # the sum is no single client's update
        assert not np.allclose(update, vector.double().numpy(), atol=1e-3)
    messages = (KeyAdvert, SealedShares, MaskedUpdate, UnmaskReply)
    assert seen and all(isinstance(item, messages) for item in seen)
    masked = [item.masked for item in seen if isinstance(item, MaskedUpdate)]
    for vector in inputs:  # a masked input is uncorrelated with the client's own values
        for ring in masked:
            signed = ring.view(np.int32).astype(np.float64)[: vector.numel()]
            assert abs(np.corrcoef(signed, vector.double().numpy())[0, 1]) < 0.05


def test_with_secagg_and_dp_the_private_step_gets_only_sums(tiny_config, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sums: list[torch.Tensor] = []
    private_step = server_steps.private_step

    def spy(plan, extras, update_sum, *args):  # type: ignore[no-untyped-def]
        sums.append(update_sum)
        return private_step(plan, extras, update_sum, *args)

    monkeypatch.setattr(server_steps, "private_step", spy)
    dp = "trust.dp={mode: distributed, noise_multiplier: 0.5, clip_norm: 0.2}"
    run_federated(tiny_config("rounds.total=1", "trust.secagg={}", dp), progress=False)
    assert len(sums) == 1 and sums[0].dtype == torch.float64  # decoded from the ring sum
