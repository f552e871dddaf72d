"""The `trust:` config section: strict, with errors naming the key and what is accepted."""

from __future__ import annotations

import pytest

from fedasr.errors import ConfigError
from fedasr.trust.schema import parse_trust


def test_a_full_section_parses() -> None:
    trust = parse_trust(
        {
            "attacks": [
                {"kind": "sign_flip", "rate": 0.2},
                {"kind": "scale", "factor": 10, "clients": ["a"]},
            ],
            "robust": {"kind": "trimmed_mean", "trim": 0.2, "clip": {"mode": "median"}},
        }
    )
    assert trust.attacks[1].factor == 10 and trust.robust.clip is not None
    private = parse_trust({"dp": {"noise_multiplier": 1.0, "adaptive": {}}, "secagg": {}})
    assert private.dp is not None and private.dp.adaptive is not None
    assert parse_trust(None).dp is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"attacks": [{"kind": "sign_flip", "rate": 0.1, "rat": 1}]},
            "trust.attacks.0.rat: unknown key; allowed keys here: kind, rate, share, clients",
        ),
        (
            {"robust": {"clip": {"mod": "fixed"}}},
            "trust.robust.clip.mod: unknown key; allowed keys here: mode",
        ),
        (
            {"attacks": [{"kind": "flip", "rate": 0.1}]},
            "trust.attacks.0.kind: Input should be 'sign_flip'",
        ),
        ({"attacks": [{"kind": "sign_flip"}]}, "give exactly one of `rate`"),
        ({"attacks": [{"kind": "scale", "rate": 0.1}]}, "needs a `factor` other than 1"),
        (
            {"robust": {"kind": "trimmed_mean", "trim": 0.5}},
            "trust.robust.trim: Input should be less than 0.5",
        ),
        ({"dp": {}}, "give `noise_multiplier` (e.g. 1.0) or `target_epsilon`"),
        ({"dp": {"noise_multiplier": 1, "target_epsilon": 3}}, "not both"),
        ({"dp": {"noise_multiplier": 1, "target_action": "stop"}}, "stop needs both"),
        (
            {"dp": {"noise_multiplier": 1, "mode": "local", "adaptive": {}}},
            "adaptive clipping needs mode",
        ),
        (
            {"dp": {"noise_multiplier": 1, "accountant": "pld"}},
            "pld supports sampling: poisson only",
        ),
        ({"secagg": {"degree": 5}}, "degree must be even"),
        (
            {"secagg": {"threshold": 0.5}},
            "trust.secagg.threshold: Input should be greater than 0.5",
        ),
        ({"secagg": {}, "robust": {"kind": "median"}}, "secagg hides individual updates"),
        (
            {"dp": {"noise_multiplier": 1}, "robust": {"kind": "krum"}},
            "dp's guarantee is for the noised sum",
        ),
    ],
)
def test_bad_config_names_the_key_and_what_is_accepted(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_trust(raw, source="run.yaml")
    assert str(error.value).startswith("run.yaml: invalid config")
    assert message in str(error.value)
