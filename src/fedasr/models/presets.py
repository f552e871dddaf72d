"""Named model sizes. Parameter counts (29-symbol character vocabulary) are in docs/models.md
and checked by a test, so the table cannot drift from the code."""

from __future__ import annotations

from typing import Any

from fedasr.errors import ConfigError
from fedasr.models.dims import ConformerDims

PRESETS: dict[str, dict[str, Any]] = {
    # ~1.1M parameters: trains to single-digit WER on the embedded corpus on a laptop CPU.
    "tiny": dict(
        d_model=96,
        heads=4,
        head_size=24,
        ffn=256,
        conv_channels=96,
        conv_kernel=15,
        layers=6,
        exits=(2, 4, 6),
        subsampling_channels=32,
        dropout=0.0,
    ),
    # ~4.1M parameters: 8 layers, 4 exits.
    "small": dict(
        d_model=144,
        heads=4,
        head_size=36,
        ffn=576,
        conv_channels=144,
        conv_kernel=15,
        layers=8,
        exits=(2, 4, 6, 8),
        subsampling_channels=64,
        dropout=0.1,
    ),
    # ~19M parameters, the early-exit paper's shape: 12 layers at width 256, an exit every 2.
    "base": dict(
        d_model=256,
        heads=4,
        head_size=64,
        ffn=1024,
        conv_channels=256,
        conv_kernel=31,
        layers=12,
        exits=(2, 4, 6, 8, 10, 12),
        subsampling_channels=128,
        dropout=0.1,
    ),
}


def preset_dims(name: str, **overrides: Any) -> ConformerDims:
    """The preset's dims with overrides (e.g. vocab=...) applied."""
    if name not in PRESETS:
        raise ConfigError(f"model.preset: got {name!r}; allowed: {', '.join(PRESETS)}")
    return ConformerDims(**{**PRESETS[name], **overrides})
