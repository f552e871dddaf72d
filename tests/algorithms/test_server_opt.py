"""Server optimizers (Reddi et al. 2020, Algorithm 2) against hand-computed steps."""

from __future__ import annotations

import math

import pytest
import torch

from fedasr.algorithms.server_opt import ServerOptimizer
from fedasr.config import LRScheduleSection
from fedasr.errors import ConfigError

PARAMS = torch.tensor([1.0, -2.0])
GRAD = torch.tensor([0.5, -0.25])  # pseudo-gradient: mean of (global - client)


def two_steps(opt: ServerOptimizer) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    state = opt.init_state(PARAMS)
    params, state = opt.step(PARAMS, GRAD, state)
    return opt.step(params, GRAD, state)


def test_sgd_with_lr_one_is_plain_fedavg() -> None:
    client_mean = torch.tensor([0.5, -1.75])  # = PARAMS - GRAD
    params, _ = ServerOptimizer("sgd", lr=1.0).step(PARAMS, GRAD, {})
    assert torch.equal(params, client_mean)


def test_momentum_accumulates() -> None:
    params, state = two_steps(ServerOptimizer("momentum", lr=0.5, momentum=0.9))
    # m1 = g, x1 = x0 - 0.5 g;  m2 = 0.9 g + g = 1.9 g, x2 = x1 - 0.5 * 1.9 g = x0 - 1.45 g
    assert torch.allclose(params, PARAMS - 1.45 * GRAD)
    assert torch.allclose(state["m"], 1.9 * GRAD)


@pytest.mark.parametrize("kind", ["adam", "yogi", "adagrad"])
def test_adaptive_first_step_by_hand(kind: str) -> None:
    lr, b1, b2, tau = 0.1, 0.9, 0.99, 1e-3
    opt = ServerOptimizer(kind, lr=lr, beta1=b1, beta2=b2, tau=tau)
    params, state = opt.step(PARAMS, GRAD, opt.init_state(PARAMS))
    g, v0 = GRAD.double(), tau**2
    m = (1 - b1) * g
    if kind == "adam":
        v = b2 * v0 + (1 - b2) * g**2
    elif kind == "yogi":
        v = v0 - (1 - b2) * g**2 * torch.sign(v0 - g**2)
    else:
        v = v0 + g**2
    expected = PARAMS.double() - lr * m / (v.sqrt() + tau)
    assert torch.allclose(params.double(), expected, atol=1e-6)
    assert torch.allclose(state["v"].double(), v, atol=1e-9)
    assert int(state["t"]) == 1


def test_yogi_second_moment_moves_additively_towards_g_squared() -> None:
    opt = ServerOptimizer("yogi", beta2=0.5, tau=1e-3)
    state = {"m": torch.zeros(1), "v": torch.tensor([1.0]), "t": torch.tensor(0)}
    _, new = opt.step(torch.zeros(1), torch.tensor([0.5]), state)
    # v - (1 - b2) g^2 sign(v - g^2) = 1 - 0.5 * 0.25 * 1
    assert new["v"].item() == pytest.approx(0.875)


def test_bias_correction_scales_the_first_adam_step() -> None:
    opt = ServerOptimizer("adam", lr=1.0, beta1=0.9, beta2=0.99, tau=1e-8, bias_correction=True)
    params, _ = opt.step(torch.zeros(1), torch.tensor([2.0]), opt.init_state(torch.zeros(1)))
    # m_hat = g, v_hat ~= g^2 (v0 = tau^2 is negligible): the step is ~ -lr * sign(g)
    assert params.item() == pytest.approx(-1.0, rel=1e-4)


def test_masked_coordinates_keep_params_and_state() -> None:
    opt = ServerOptimizer("adam", lr=0.1)
    state = opt.init_state(PARAMS)
    mask = torch.tensor([True, False])
    params, new = opt.step(PARAMS, GRAD, state, mask)
    assert params[1] == PARAMS[1] and new["m"][1] == 0 and new["v"][1] == state["v"][1]
    assert params[0] != PARAMS[0]


def test_inputs_are_not_modified() -> None:
    opt = ServerOptimizer("adagrad")
    state = opt.init_state(PARAMS)
    before = {k: v.clone() for k, v in state.items()}
    opt.step(PARAMS.clone(), GRAD, state)
    assert all(torch.equal(before[k], state[k]) for k in state)
    assert math.isclose(float(PARAMS[0]), 1.0)


def test_unknown_kind_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"server\.optimizer"):
        ServerOptimizer("adamm")


def test_server_schedule_warms_up_then_decays() -> None:
    schedule = LRScheduleSection(kind="cosine", warmup=1, min_lr=0.01)
    opt = ServerOptimizer("adam", lr=0.1, schedule=schedule, total_rounds=4)
    # warm-up round 0: lr * 1/2; then cosine over rounds 1..3 from 0.1 down to min_lr
    assert [opt.lr_at(r) for r in range(4)] == pytest.approx([0.05, 0.1, 0.055, 0.01])


def test_scheduled_rate_scales_the_step_not_the_state() -> None:
    schedule = LRScheduleSection(kind="step", gamma=0.5, every=1)
    scheduled = ServerOptimizer("adam", lr=0.2, schedule=schedule, total_rounds=3)
    halved = ServerOptimizer("adam", lr=0.1)
    state = scheduled.init_state(PARAMS)
    params, new = scheduled.step(PARAMS, GRAD, state, round_index=1)  # lr 0.2 * 0.5
    expected, expected_state = halved.step(PARAMS, GRAD, state)
    assert torch.equal(params, expected)
    assert all(torch.equal(new[k], expected_state[k]) for k in new)
