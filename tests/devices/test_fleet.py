"""Tier assignment, budgets and availability: seeded, exact, and errors that name the key."""

from __future__ import annotations

import re

import numpy as np
import pytest

from fedasr.config import load_config
from fedasr.devices.fleet import build_fleet, share_counts
from fedasr.devices.schema import DevicesSection
from fedasr.errors import ConfigError
from fedasr.models.conformer import build_model
from fedasr.models.flat import ParamLayout
from fedasr.models.memory import training_memory_bytes
from fedasr.models.presets import preset_dims

DIMS = preset_dims("tiny")
LAYOUT = ParamLayout.of(build_model(DIMS), DIMS)
IDS = [f"spk-{i:02d}" for i in range(30)]
RATES = {"flops_per_s": 1e9, "downlink_bytes_per_s": 1e6, "uplink_bytes_per_s": 1e5}


def section(**changes: object) -> DevicesSection:
    tiers = {
        "low": {**RATES, "availability": 0.5, "max_depth": 1},
        "mid": {**RATES, "availability": 0.8, "max_depth": 2},
        "high": {**RATES},
    }
    return DevicesSection.model_validate(
        {"tiers": tiers, "shares": {"low": 0.5, "mid": 0.3, "high": 0.2}, **changes}
    )


def fleet(sec: DevicesSection, seed: int = 0):  # type: ignore[no-untyped-def]
    return build_fleet(sec, IDS, seed, DIMS, LAYOUT, 15.0, "adamw")


def test_shares_give_exact_counts_and_budgets() -> None:
    f = fleet(section())
    assert f.counts() == {"low": 15, "mid": 9, "high": 6}
    assert sorted(set(f.depths[f.tier_of == 0])) == [1]
    assert sorted(set(f.depths[f.tier_of == 1])) == [2]
    assert sorted(set(f.depths[f.tier_of == 2])) == [0]  # the full model
    assert share_counts({"a": 1, "b": 1, "c": 1}, 10) == [4, 3, 3]


def test_assignment_is_seeded_and_per_client_mapping_wins() -> None:
    assert np.array_equal(fleet(section()).tier_of, fleet(section()).tier_of)
    assert not np.array_equal(fleet(section()).tier_of, fleet(section(), seed=1).tier_of)
    mapped = fleet(section(clients={"spk-03": "high", "spk-04": "low"}))
    assert mapped.tier(3) == "high" and mapped.tier(4) == "low"
    assert sum(mapped.counts().values()) == 30


def test_depth_full_trains_everyone_at_full_depth() -> None:
    assert not fleet(section(depth="full")).depths.any()


def test_availability_is_a_pure_function_of_seed_and_round() -> None:
    f, again = fleet(section()), fleet(section())
    rounds = [f.available(r) for r in range(40)]
    assert all(np.array_equal(a, again.available(r)) for r, a in enumerate(rounds))
    assert not all(np.array_equal(rounds[0], a) for a in rounds[1:])
    rate = np.mean([a[f.tier_of == 0].mean() for a in rounds])
    assert 0.4 < rate < 0.6  # low tier: availability 0.5
    assert all(a[f.tier_of == 2].all() for a in rounds)  # availability 1


def test_memory_gives_the_deepest_exit_that_fits() -> None:
    need = [training_memory_bytes(DIMS, d, LAYOUT.span(d), 15.0) / 2**20 for d in (1, 2, 3)]
    assert need[0] < need[1] < need[2]
    tiers = {"small": {**RATES, "memory_mb": (need[1] + need[2]) / 2}, "big": {**RATES}}
    f = fleet(DevicesSection.model_validate({"tiers": tiers, "shares": {"small": 1}}))
    assert set(f.depths) == {2}
    tiny = {"t": {**RATES, "memory_mb": need[0] / 2}}
    with pytest.raises(ConfigError, match=r"devices\.tiers\.t\.memory_mb"):
        fleet(DevicesSection.model_validate({"tiers": tiny, "shares": {"t": 1}}))


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"clients": {"nobody": "low"}}, "devices.clients"),
        ({"shares": {}}, "devices.shares"),
    ],
)
def test_fleet_errors_name_the_key(changes: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        fleet(section(**changes))
    with pytest.raises(ConfigError, match=r"devices\.tiers\.low\.max_depth"):
        fleet(section(tiers={"low": {**RATES, "max_depth": 4}}, shares={"low": 1}))


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("devices.shares={lo: 1}", "devices.shares: no tier 'lo'"),
        ("devices.participate=[top]", "devices.participate: no tier 'top'"),
        ("devices.tiers.low.speed=1", "devices.tiers.low.speed"),
        ("devices.tiers.low.availability=2", "devices.tiers.low.availability"),
        ("devices.clock.deadline=1", "deadline_s"),
    ],
)
def test_config_errors_name_the_key_and_what_is_accepted(override: str, named: str) -> None:
    tiers = "devices.tiers={low: {flops_per_s: 1, downlink_bytes_per_s: 1, uplink_bytes_per_s: 1}}"
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_config(None, [tiers, override])


def test_only_online_clients_of_participating_tiers_are_eligible() -> None:
    from fedasr.devices.plugins import DevicePlugin

    chosen = section(participate=["high", "mid"])
    hook = DevicePlugin(chosen, fleet(chosen), [f"c{i}" for i in range(30)])
    everyone = list(range(30))
    for r in range(5):
        online = hook.fleet.available(r)
        kept = hook.eligible(r, everyone)
        assert kept == [c for c in everyone if online[c] and hook.fleet.tier(c) != "low"]
        assert hook.available == len(kept)


def test_keep_first_above_the_sampled_count_is_refused() -> None:
    from fedasr.experiment.plugins import check_clock

    tiers = "devices.tiers={low: {flops_per_s: 1, downlink_bytes_per_s: 1, uplink_bytes_per_s: 1}}"
    config = load_config(None, [tiers, "devices.shares={low: 1}", "devices.clock.keep_first=9"])
    with pytest.raises(ConfigError, match=r"devices\.clock\.keep_first"):
        check_clock(config)
