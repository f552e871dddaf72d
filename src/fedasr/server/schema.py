"""Config of the server-side round hooks: `client.stall_decay`, `server.fallback_to_best`,
`server.replay`. Kept apart from fedasr.config, which only embeds these sections."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class StallDecaySection(_Strict):
    """Multiply the client learning rate by `factor` after `patience` evaluations in a row
    without `eval.metric` improving by more than `min_delta` (FLUTE's client-rate decay)."""

    factor: float = Field(0.5, gt=0, lt=1)
    patience: int = Field(1, ge=1)
    min_delta: float = Field(0.0, ge=0)
    # The decay stops once client.lr x the decay factor reaches min_lr (an lr_schedule, if
    # any, still multiplies on top).
    min_lr: float = Field(0.0, ge=0)


class ReplaySection(_Strict):
    """After each aggregation, `steps` training steps on a server-held labelled set."""

    # The labelled set: a manifest (relative to data.corpus, or absolute); null = data.train.
    manifest: str | None = None
    speakers: list[str] | None = None  # only these speakers' utterances (null: all)
    max_utterances: int | None = Field(None, ge=1)  # the first N after the speaker filter
    steps: int = Field(10, ge=1)
    every: int = Field(1, ge=1)  # replay after every N-th round
    optimizer: Literal["sgd", "adamw"] = "adamw"  # fresh state at every replay
    lr: float = Field(1e-3, gt=0)
    batch_seconds: float = Field(15.0, gt=0)
    # Which parameters may change: "all", "exits" (the CTC output layers), "frontend" (the
    # convolutional subsampling), or a list of parameter-name prefixes, e.g. [layers.5., exits.]
    trainable: Literal["all", "exits", "frontend"] | list[str] = "all"
    specaugment: bool = True  # with the client.specaugment settings
