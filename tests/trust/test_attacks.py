"""Model-poisoning attacks: who attacks is a pure function of (seed, round, cohort), and each
transform does exactly what it says."""

from __future__ import annotations

import pytest
import torch

from fedasr.errors import ConfigError
from fedasr.trust.attacks import (
    check_attack_clients,
    choose_attackers,
    poison,
    random_update,
    zeros_target,
)
from fedasr.trust.schema import AttackGroup

IDS = [f"spk{i:03d}" for i in range(100)]
COHORT = list(range(0, 100, 5))  # 20 clients


def test_rate_takes_that_share_of_each_cohort_and_is_deterministic() -> None:
    groups = [AttackGroup(kind="sign_flip", rate=0.2)]
    first = choose_attackers(groups, seed=7, round_index=3, cohort=COHORT, ids=IDS)
    again = choose_attackers(groups, seed=7, round_index=3, cohort=COHORT, ids=IDS)
    assert first == again
    assert len(first) == 4 and set(first) <= set(COHORT)
    other_rounds = [
        set(choose_attackers(groups, seed=7, round_index=r, cohort=COHORT, ids=IDS))
        for r in range(4, 8)
    ]
    assert any(s != set(first) for s in other_rounds)  # redrawn every round
    other_seed = choose_attackers(groups, seed=8, round_index=3, cohort=COHORT, ids=IDS)
    assert set(other_seed) != set(first)


def test_share_is_a_fixed_malicious_population() -> None:
    groups = [AttackGroup(kind="scale", factor=10, share=0.3)]
    everyone = list(range(100))
    population = set(choose_attackers(groups, seed=1, round_index=0, cohort=everyone, ids=IDS))
    assert len(population) == 30
    for round_index in range(5):
        chosen = choose_attackers(groups, seed=1, round_index=round_index, cohort=COHORT, ids=IDS)
        assert set(chosen) == population & set(COHORT)


def test_named_clients_groups_are_disjoint_and_start_round_delays() -> None:
    groups = [
        AttackGroup(kind="gaussian", clients=["spk005", "spk010"]),
        AttackGroup(kind="sign_flip", rate=0.5, start_round=2),
    ]
    early = choose_attackers(groups, seed=0, round_index=1, cohort=COHORT, ids=IDS)
    assert early == {5: 0, 10: 0}  # the rate group is not active yet
    late = choose_attackers(groups, seed=0, round_index=2, cohort=COHORT, ids=IDS)
    assert late[5] == 0 and late[10] == 0
    assert sum(1 for g in late.values() if g == 1) == 10  # half the cohort, minus none taken
    assert len(late) == 12


def test_unknown_or_repeated_named_attackers_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"trust.attacks.0.clients: unknown client id\(s\) bob"):
        check_attack_clients([AttackGroup(kind="sign_flip", clients=["bob"])], IDS)
    twice = [
        AttackGroup(kind="sign_flip", clients=["spk001"]),
        AttackGroup(kind="gaussian", clients=["spk001"]),
    ]
    with pytest.raises(ConfigError, match=r"trust\.attacks\.1\.clients: spk001 already"):
        check_attack_clients(twice, IDS)


def test_sign_flip_and_scale_transform_exactly() -> None:
    delta = torch.tensor([1.0, -2.0, 0.5])
    flip = AttackGroup(kind="sign_flip", rate=0.1, factor=3)
    scale = AttackGroup(kind="scale", rate=0.1, factor=10)
    kw = {"seed": 0, "round_index": 0, "client_index": 0}
    assert poison(flip, delta, **kw).tolist() == [-3.0, 6.0, -1.5]
    assert poison(scale, delta, **kw).tolist() == [10.0, -20.0, 5.0]


def test_gaussian_attack_is_seeded_per_round_and_client_with_the_honest_norm() -> None:
    delta = torch.randn(1000, generator=torch.Generator().manual_seed(0))
    group = AttackGroup(kind="gaussian", rate=0.1)
    a = poison(group, delta, seed=3, round_index=1, client_index=4)
    assert torch.equal(a, poison(group, delta, seed=3, round_index=1, client_index=4))
    assert not torch.equal(a, poison(group, delta, seed=3, round_index=1, client_index=5))
    assert not torch.equal(a, poison(group, delta, seed=3, round_index=2, client_index=4))
    assert float(a.norm()) == pytest.approx(float(delta.norm()), rel=1e-6)
    assert abs(float(torch.nn.functional.cosine_similarity(a, delta, dim=0))) < 0.15


def test_gaussian_attack_with_sigma_has_that_spread() -> None:
    noise = random_update(torch.zeros(200_000), sigma=0.05, seed=9)
    assert float(noise.std()) == pytest.approx(0.05, rel=0.01)
    assert abs(float(noise.mean())) < 0.05 * 0.01


def test_target_model_pushes_towards_the_target_with_a_boost() -> None:
    theta_global = torch.tensor([1.0, 2.0, 3.0])
    target = zeros_target(theta_global)
    group = AttackGroup(kind="target_model", rate=0.1, target="zeros", boost=5)
    delta = torch.tensor([0.1, 0.1, 0.1])
    where = {"seed": 0, "round_index": 0, "client_index": 0}
    models = {"global_params": theta_global, "target_params": target}
    assert poison(group, delta, **where, **models).tolist() == [5.0, 10.0, 15.0]
    # one server step of lr 1 with this client alone lands theta at the target (boost 1)
    one = poison(AttackGroup(kind="target_model", rate=0.1), delta, **where, **models)
    assert torch.equal(theta_global - one, target)
    with pytest.raises(ValueError, match="needs global_params"):
        poison(group, delta, seed=0, round_index=0, client_index=0)
