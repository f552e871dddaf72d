"""Dims from the `model` config section: a preset, the data's vocabulary, user overrides — and
the model tiers of heterogeneous runs (`model.tiers`), each built by the same builder."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fedasr.errors import ConfigError
from fedasr.models.dims import ConformerDims
from fedasr.models.presets import preset_dims

if TYPE_CHECKING:
    from fedasr.config import ModelSection

KNOWN = sorted(set(ConformerDims.__dataclass_fields__) - {"vocab", "n_mels"})


def _check_keys(key: str, overrides: dict[str, Any]) -> None:
    unknown = sorted(set(overrides) - set(KNOWN))
    if unknown:
        raise ConfigError(
            f"{key}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(KNOWN)}"
        )


def model_dims(section: ModelSection, vocab: int, n_mels: int) -> ConformerDims:
    """The run's one model: `model.tier`'s architecture when set, else preset + overrides."""
    if section.tier is not None:
        return tier_dims(section, vocab, n_mels)[section.tier]
    _check_keys("model.overrides", section.overrides)
    return preset_dims(section.preset, vocab=vocab, n_mels=n_mels, **section.overrides)


def tier_dims(section: ModelSection, vocab: int, n_mels: int) -> dict[str, ConformerDims]:
    """Every model tier: its preset (default model.preset) with model.overrides, then the
    tier's own overrides, on the data's vocabulary."""
    _check_keys("model.overrides", section.overrides)
    dims = {}
    for name, tier in section.tiers.items():
        _check_keys(f"model.tiers.{name}.overrides", tier.overrides)
        overrides = {**section.overrides, **tier.overrides}
        dims[name] = preset_dims(tier.preset or section.preset, vocab=vocab, n_mels=n_mels,
                                 **overrides)  # fmt: skip
    return dims


def check_tiers(section: ModelSection) -> None:
    """Override keys of every tier, checked when the config loads (before any data)."""
    _check_keys("model.overrides", section.overrides)
    for name, tier in section.tiers.items():
        _check_keys(f"model.tiers.{name}.overrides", tier.overrides)
