"""Model dimensions as plain data: the only thing a builder, a preset or a slice needs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from fedasr.errors import ConfigError

Width = int | tuple[int, ...]


@dataclass(frozen=True)
class ConformerDims:
    """Dimensions of a ConformerCTC.

    Per-layer widths (`ffn`, `conv_channels`, `heads`) are an int for every layer or a tuple
    with one value per layer; tuples appear when a model is sliced or pruned unevenly.
    `exits` lists the layers (1-based) after which a linear CTC exit sits; the last exit is
    always after the last layer. `proj_dim` > 0 inserts a projection to a shared top-level
    feature size before every exit, so models of different widths share one feature space.
    """

    n_mels: int = 80
    d_model: int = 96
    heads: Width = 4
    head_size: int = 24
    ffn: Width = 384
    conv_channels: Width = 96
    conv_kernel: int = 15
    layers: int = 6
    exits: tuple[int, ...] = (2, 4, 6)
    vocab: int = 29
    dropout: float = 0.1
    subsampling_channels: int = 32
    proj_dim: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "exits", tuple(int(e) for e in self.exits))
        for name in ("heads", "ffn", "conv_channels"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        self.validate()

    def validate(self) -> None:
        if not self.exits or list(self.exits) != sorted(set(self.exits)):
            raise ConfigError(f"model.exits: {self.exits} must be increasing and non-empty")
        if self.exits[-1] != self.layers or self.exits[0] < 1:
            raise ConfigError(
                f"model.exits: {self.exits}; each exit must be in 1..{self.layers} "
                f"and the last must equal model.layers ({self.layers})"
            )
        for name in ("heads", "ffn", "conv_channels"):
            value = getattr(self, name)
            if isinstance(value, tuple) and len(value) != self.layers:
                raise ConfigError(f"model.{name}: {len(value)} values for {self.layers} layers")
            if min(self.per_layer(name)) < 1:
                raise ConfigError(f"model.{name}: every layer needs a width >= 1")

    def per_layer(self, name: str) -> tuple[int, ...]:
        value = getattr(self, name)
        return tuple(value) if isinstance(value, tuple) else (int(value),) * self.layers

    def layer(self, index: int) -> dict[str, int]:
        """Widths of layer `index` (0-based)."""
        return {
            "heads": self.per_layer("heads")[index],
            "ffn": self.per_layer("ffn")[index],
            "conv_channels": self.per_layer("conv_channels")[index],
        }

    def layers_for_exit(self, exit_index: int) -> int:
        """Number of layers that run to reach exit `exit_index` (1-based)."""
        if not 1 <= exit_index <= len(self.exits):
            raise ConfigError(f"exit {exit_index}: the model has exits 1..{len(self.exits)}")
        return self.exits[exit_index - 1]

    def feature_dim(self) -> int:
        return self.proj_dim or self.d_model

    def with_(self, **changes: Any) -> ConformerDims:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("heads", "ffn", "conv_channels", "exits"):
            if isinstance(data[name], tuple):
                data[name] = list(data[name])
        return data
