"""Dims from the `model` config section: a preset, the data's vocabulary, user overrides."""

from __future__ import annotations

from fedasr.config import ModelSection
from fedasr.errors import ConfigError
from fedasr.models.dims import ConformerDims
from fedasr.models.presets import preset_dims


def model_dims(section: ModelSection, vocab: int, n_mels: int) -> ConformerDims:
    known = set(ConformerDims.__dataclass_fields__) - {"vocab", "n_mels"}
    unknown = sorted(set(section.overrides) - known)
    if unknown:
        raise ConfigError(
            f"model.overrides: unknown key(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(known))}"
        )
    return preset_dims(section.preset, vocab=vocab, n_mels=n_mels, **section.overrides)
