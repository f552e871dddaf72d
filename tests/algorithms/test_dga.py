"""DGA: weights and aggregates checked by hand on two or three fake clients."""

from __future__ import annotations

import math

import pytest
import torch

from fedasr.algorithms.base import ClientCost, ClientResult, RoundAccumulator
from fedasr.algorithms.dga import DGAOptions, DGAWeighting, client_statistic
from fedasr.algorithms.registry import build_algorithm
from fedasr.algorithms.spec import MAIN
from fedasr.config import load_config
from fedasr.errors import ConfigError
from fedasr.models.dims import ConformerDims


def fake(name: str, delta: list[float], loss_sum: float, frames: int, examples: int = 2):  # type: ignore[no-untyped-def]
    return ClientResult(name, torch.tensor(delta), examples, frames, loss_sum, ClientCost())


def dga(*overrides: str):  # type: ignore[no-untyped-def]
    return build_algorithm(load_config(None, ["algorithm.name=dga", *overrides]), ConformerDims())


def aggregate(algorithm, results):  # type: ignore[no-untyped-def]
    """One round on params 0 with server SGD lr 1: the new params are -g."""
    acc = RoundAccumulator({MAIN: 3})
    reports = [algorithm.client.fold(acc, result) for result in results]
    server, _ = algorithm.server.update(algorithm.server.init({MAIN: torch.zeros(3)}), acc)
    return -server.main, reports


def test_loss_weights_and_aggregate_by_hand() -> None:
    # loss per frame 0.5 and 2.0; beta 2: w = e^-1 and e^-4, so the shares are
    # 1 / (1 + e^-3) = 0.952574 and e^-3 / (1 + e^-3) = 0.047426
    a = fake("a", [1.0, 0.0, 2.0], loss_sum=50.0, frames=100)
    b = fake("b", [0.0, 3.0, -1.0], loss_sum=200.0, frames=100)
    broken = fake("c", [5.0, 5.0, 5.0], loss_sum=math.inf, frames=100)
    algorithm = dga("algorithm.beta=2")
    g, reports = aggregate(algorithm, [a, b, broken])
    assert torch.allclose(g, torch.tensor([0.952574, 3 * 0.047426, 2 * 0.952574 - 0.047426]))
    assert reports[0].log_weight == pytest.approx(-1.0)
    assert reports[1].log_weight == pytest.approx(-4.0)
    # the non-finite client gets weight 0: left out and reported, the round goes on
    assert not reports[2].ok and "weight" in str(reports[2].error)


def test_beta_zero_is_the_plain_mean() -> None:
    a = fake("a", [1.0, 0.0, 2.0], loss_sum=1.0, frames=10)
    b = fake("b", [3.0, 4.0, 0.0], loss_sum=90.0, frames=10)
    g, _ = aggregate(dga("algorithm.beta=0"), [a, b])
    assert torch.allclose(g, torch.tensor([2.0, 2.0, 1.0]))


def test_loss_per_utterance() -> None:
    result = fake("a", [0.0], loss_sum=30.0, frames=300, examples=3)
    assert client_statistic(result, "loss", "utterances") == pytest.approx(10.0)
    assert client_statistic(result, "loss", "frames") == pytest.approx(0.1)
    idle = fake("idle", [0.0], loss_sum=0.0, frames=0, examples=0)
    assert client_statistic(idle, "loss") == math.inf


def test_pseudo_gradient_statistics_by_hand() -> None:
    # mean 1; mean square (1 + 4 + 9 + 4) / 4 = 4.5: RMS sqrt(4.5), variance 4.5 - 1 = 3.5
    result = fake("a", [1.0, 2.0, 3.0, -2.0], loss_sum=0.0, frames=1)
    assert client_statistic(result, "mean") == pytest.approx(1.0)
    assert client_statistic(result, "magnitude") == pytest.approx(math.sqrt(4.5))
    assert client_statistic(result, "variance") == pytest.approx(3.5)
    weight = DGAWeighting(DGAOptions(beta=0.5, statistic="variance"))
    assert weight(result) == pytest.approx(-1.75)


def test_magnitude_weighting_prefers_the_small_update() -> None:
    small = fake("small", [0.1, 0.1, 0.1], loss_sum=0.0, frames=1)  # RMS 0.1
    large = fake("large", [1.0, 1.0, 1.0], loss_sum=0.0, frames=1)  # RMS 1.0
    g, _ = aggregate(dga("algorithm.statistic=magnitude", "algorithm.beta=10"), [small, large])
    share_large = math.exp(-10) / (math.exp(-1) + math.exp(-10))
    expected = 0.1 * (1 - share_large) + 1.0 * share_large
    assert torch.allclose(g, torch.full((3,), expected))


def test_the_raw_weight_is_capped() -> None:
    # mean -10, beta 1: exp(10) = 22026 is capped at 100 (FLUTE's cap), or left alone
    result = fake("a", [-10.0, -10.0], loss_sum=0.0, frames=1)
    assert DGAWeighting(DGAOptions(statistic="mean"))(result) == pytest.approx(math.log(100))
    uncapped = DGAOptions(statistic="mean", cap=None)
    assert DGAWeighting(uncapped)(result) == pytest.approx(10.0)


def test_split_over_shards_equals_one_sum() -> None:
    algorithm = dga("algorithm.beta=5")
    a = fake("a", [1.0, 0.0, 2.0], loss_sum=3.0, frames=10)
    b = fake("b", [0.0, 3.0, -1.0], loss_sum=9.0, frames=10)
    whole, _ = aggregate(algorithm, [a, b])
    first, second = RoundAccumulator({MAIN: 3}), RoundAccumulator({MAIN: 3})
    algorithm.client.fold(first, a)
    algorithm.client.fold(second, b)
    first.merge(second)
    mean, _ = first.weighted("delta").mean()
    assert torch.allclose(mean, whole)


def test_composes_with_any_server_optimizer() -> None:
    algorithm = dga("server.optimizer=adam", "server.lr=0.01", "algorithm.beta=20")
    assert algorithm.name == "dga" and algorithm.server.optimizer.kind == "adam"


@pytest.mark.parametrize(
    ("override", "accepted"),
    [("algorithm.statistic=median", "magnitude"), ("algorithm.beta=-1", "greater than")],
)
def test_bad_options_name_the_key(override: str, accepted: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, ["algorithm.name=dga", override])
    assert override.split("=")[0] in str(info.value) and accepted in str(info.value)
