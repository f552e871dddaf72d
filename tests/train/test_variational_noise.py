"""Variational (weight) noise: only the step's forward/backward sees it, the stored weights stay
clean, std = 0 changes nothing, and the draws follow the seed (shared/ALGORITHMS.md §2)."""

from __future__ import annotations

import pytest
import torch
from train_helpers import SMALL, fixture_batch

from fedasr.algorithms.objectives import Proximal
from fedasr.data.batching import Batch
from fedasr.models.conformer import ConformerCTC, build_model
from fedasr.models.flat import FlatModel
from fedasr.train.noise import WeightNoise, noise_generator, noise_in_round, with_noise
from fedasr.train.objective import Objective, StepHooks, compose
from fedasr.train.step import PLAIN, make_optimizer, train_step

LR = 0.05


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    return fixture_batch(tmp_path_factory.mktemp("cache"), count=2)[0]


def params_of(model: ConformerCTC) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def sgd_step(batch: Batch, objective: Objective, model: ConformerCTC | None = None) -> torch.Tensor:
    """The weights after one plain-SGD step (no momentum, decay or clipping)."""
    model = model if model is not None else build_model(SMALL, seed=0)
    optimizer = make_optimizer(model.parameters(), "sgd", LR, 0.0, 0.0)
    train_step(model, optimizer, batch, objective=objective)
    return params_of(model)


def noisy(model: ConformerCTC, std: float, seed: int, scale: str = "absolute") -> Objective:
    return with_noise(PLAIN, WeightNoise(std, scale), list(model.parameters()), seed)  # type: ignore[arg-type]


def test_zero_std_is_bit_identical_to_no_noise(batch: Batch) -> None:
    plain = sgd_step(batch, PLAIN)
    model = build_model(SMALL, seed=0)
    assert torch.equal(sgd_step(batch, noisy(model, 0.0, seed=3), model), plain)


def test_the_step_takes_the_gradient_at_the_noisy_point_and_updates_the_clean_weights(
    batch: Batch,
) -> None:
    model = build_model(SMALL, seed=0)
    clean = params_of(model).clone()
    after = sgd_step(batch, noisy(model, 0.02, seed=5), model)
    # by hand: the same draws added to a copy, its gradient applied to the clean weights
    copy = build_model(SMALL, seed=0)
    draws = torch.randn(clean.numel(), generator=noise_generator(5))
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(clean + 0.02 * draws, copy.parameters())
    train_step(copy, make_optimizer(copy.parameters(), "sgd", 0.0, 0.0, 0.0), batch)
    grad = torch.cat([p.grad.flatten() for p in copy.parameters()])  # type: ignore[union-attr]
    torch.testing.assert_close(after, clean - LR * grad, rtol=0, atol=1e-6)
    assert not torch.allclose(after, sgd_step(batch, PLAIN), atol=1e-6)  # the noise mattered


def test_the_stored_weights_stay_clean(batch: Batch) -> None:
    """With a zero learning rate the step must leave every weight exactly as it was, though
    the forward pass saw other weights."""
    model = build_model(SMALL, seed=0)
    clean = params_of(model).clone()
    seen: list[torch.Tensor] = []
    record = StepHooks(before_forward=lambda: seen.append(params_of(model).clone()))
    objective = noisy(model, 0.05, seed=1)
    objective = Objective(hooks=(*objective.hooks, record))
    train_step(model, make_optimizer(model.parameters(), "sgd", 0.0, 0.0, 0.0), batch,
               objective=objective)  # fmt: skip
    assert torch.equal(params_of(model), clean)
    assert (seen[0] - clean).std().item() == pytest.approx(0.05, rel=0.05)


def test_the_draws_follow_the_seed_and_the_step(batch: Batch) -> None:
    def two_steps(seed: int) -> torch.Tensor:
        model = build_model(SMALL, seed=0)
        objective = noisy(model, 0.02, seed)
        optimizer = make_optimizer(model.parameters(), "sgd", LR, 0.0, 0.0)
        for _ in range(2):  # the second step draws new noise from the same stream
            train_step(model, optimizer, batch, objective=objective)
        return params_of(model)

    assert torch.equal(two_steps(7), two_steps(7))
    assert not torch.equal(two_steps(7), two_steps(8))


def test_rms_scale_follows_each_tensor(batch: Batch) -> None:
    model = build_model(SMALL, seed=0)
    with torch.no_grad():
        model.exits[0].out.bias.zero_()  # type: ignore[union-attr]
        model.exits[0].out.weight.mul_(0).add_(3.0)  # type: ignore[union-attr]
    named = dict(model.named_parameters())
    clean = {name: p.detach().clone() for name, p in named.items()}
    moved: dict[str, torch.Tensor] = {}

    def record() -> None:
        moved.update({name: p.detach() - clean[name] for name, p in named.items()})

    objective = noisy(model, 0.1, seed=2, scale="rms")
    objective = Objective(hooks=(*objective.hooks, StepHooks(before_forward=record)))
    train_step(model, make_optimizer(model.parameters(), "sgd", 0.0, 0.0, 0.0), batch,
               objective=objective)  # fmt: skip
    assert torch.count_nonzero(moved["exits.0.out.bias"]) == 0  # RMS 0: no noise
    assert moved["exits.0.out.weight"].std().item() == pytest.approx(0.3, rel=0.1)


def test_frozen_parameters_get_no_noise(batch: Batch) -> None:
    model = build_model(SMALL, seed=0)
    model.frontend.requires_grad_(False)
    before = [p.detach().clone() for p in model.frontend.parameters()]
    seen: list[list[torch.Tensor]] = []
    objective = noisy(model, 0.05, seed=1)
    grab = StepHooks(before_forward=lambda: seen.append(list(model.frontend.parameters())))
    objective = Objective(hooks=(*objective.hooks, grab))
    train_step(model, make_optimizer(model.parameters(), "sgd", 0.0, 0.0, 0.0), batch,
               objective=objective)  # fmt: skip
    assert all(torch.equal(a, b) for a, b in zip(before, seen[0], strict=True))


def test_a_proximal_term_sees_the_clean_weights(batch: Batch) -> None:
    """The noise goes first: its restore runs before FedProx's gradient, which at the first
    step (weights = the anchor) must add exactly nothing."""
    alone = build_model(SMALL, seed=0)
    expected = sgd_step(batch, noisy(alone, 0.02, seed=4), alone)
    flat = FlatModel(SMALL, seed=0)
    proximal = compose(None, [Proximal(mu=10.0).bind(flat, flat.flat.clone())])
    objective = with_noise(proximal, WeightNoise(0.02), list(flat.module.parameters()), 4)
    assert torch.equal(sgd_step(batch, objective, flat.module), expected)


def test_noise_starts_at_its_round() -> None:
    from fedasr.config import VariationalNoiseSection

    section = VariationalNoiseSection(std=0.01, start_round=3, scale="rms")
    assert noise_in_round(section, 2) is None
    assert noise_in_round(section, 3) == WeightNoise(0.01, "rms")
    assert noise_in_round(VariationalNoiseSection(), 5) is None  # off by default
