"""The `trust:` config section: model-poisoning attacks, robust aggregation, client-level
differential privacy and secure aggregation (docs/trust.md).

Kept apart from fedasr.config, which will only embed `TrustSection`. Every section is strict
(an unknown key is an error naming the keys allowed) and checks that its options make sense
together before anything runs; `parse_trust` turns a validation error into a ConfigError that
names the key, the value and what is accepted.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fedasr.errors import ConfigError

AttackKind = Literal["sign_flip", "scale", "gaussian", "target_model"]
RobustKind = Literal["mean", "median", "trimmed_mean", "krum", "multi_krum"]
ClipMode = Literal["fixed", "median", "quantile"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class AttackGroup(_Strict):
    """Model-poisoning clients of one kind, chosen in exactly one of three ways:
    `rate` — that share of every round's cohort (round(rate x cohort), drawn per (seed, round));
    `share` — that share of all registered clients, a fixed set drawn once with the seed;
    `clients` — these client ids, whenever they are sampled."""

    kind: AttackKind
    rate: float | None = Field(None, ge=0, le=1)
    share: float | None = Field(None, ge=0, le=1)
    clients: list[str] | None = None
    # sign_flip: delta -> -factor * delta; scale: delta -> factor * delta.
    factor: float = Field(1.0, gt=0)
    # gaussian: N(0, sigma^2) per coordinate; None: scaled to the norm of the client's own
    # honest update (a "typical" norm, so norm-based defences cannot spot it by size alone).
    sigma: float | None = Field(None, gt=0)
    # target_model: delta = boost * (theta_global - theta_target); theta_target is all zeros
    # or the model's initialisation under `target_seed` (the engine builds it).
    target: Literal["zeros", "init"] = "init"
    target_seed: int = 12345
    boost: float = Field(1.0, gt=0)
    start_round: int = Field(0, ge=0)  # honest before this round (0-based)

    @model_validator(mode="after")
    def _one_way_to_choose(self) -> AttackGroup:
        given = [k for k in ("rate", "share", "clients") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of `rate` (share of each round's cohort, 0..1), `share` "
                f"(share of all clients, 0..1) or `clients` (a list of ids); got {given or 'none'}"
            )
        if self.kind == "scale" and self.factor == 1.0:
            raise ValueError("kind `scale` needs a `factor` other than 1 (e.g. 10)")
        return self


class ClipSection(_Strict):
    """Norm clipping of each client update before any aggregation.
    fixed: bound `bound`. median: `multiplier` x the median norm of this round's cohort.
    quantile: a bound tracked over rounds towards the `quantile` of update norms (Andrew et
    al. 2021, geometric update with rate `learning_rate`), starting from `bound`."""

    mode: ClipMode = "fixed"
    bound: float = Field(1.0, gt=0)
    multiplier: float = Field(1.0, gt=0)
    quantile: float = Field(0.5, gt=0, lt=1)
    learning_rate: float = Field(0.2, gt=0)


class RobustSection(_Strict):
    """Robust aggregation of the round's client updates into one pseudo-gradient that any
    server optimizer then applies. `clip`, when set, is applied to each update first."""

    kind: RobustKind = "mean"
    trim: float = Field(0.1, ge=0, lt=0.5)  # trimmed_mean: fraction cut at each side
    byzantine: int = Field(1, ge=0)  # (multi_)krum: f, the attackers to tolerate
    select: int | None = Field(None, ge=1)  # multi_krum: m kept (None: n - f)
    clip: ClipSection | None = None


class AdaptiveClipSection(_Strict):
    """DP adaptive clipping (Andrew et al. 2021): the clip norm follows the `target_quantile`
    of update norms, estimated from a noised count of unclipped clients."""

    target_quantile: float = Field(0.5, gt=0, lt=1)
    learning_rate: float = Field(0.2, gt=0)
    # std of the noise on the count of unclipped clients; None: expected cohort / 20 (paper)
    count_noise: float | None = Field(None, gt=0)


class DPSection(_Strict):
    """DP-FedAvg (McMahan et al. 2018): clip each update to `clip_norm`, add Gaussian noise of
    std z x clip_norm to the sum (central), to each client (local), or split over the
    cohort's clients so their sum carries it (distributed, for use with secure aggregation)."""

    mode: Literal["central", "local", "distributed"] = "central"
    clip_norm: float = Field(1.0, gt=0)  # the initial bound when `adaptive` is set
    adaptive: AdaptiveClipSection | None = None
    noise_multiplier: float | None = Field(None, ge=0)
    target_epsilon: float | None = Field(None, gt=0)
    # set_noise: pick z so the planned rounds end at target_epsilon; stop: train with
    # `noise_multiplier` until the next round would pass target_epsilon.
    target_action: Literal["set_noise", "stop"] = "set_noise"
    delta: float | None = Field(None, gt=0, lt=1)  # None: 1 / population^1.1 (McMahan 2018)
    # uniform: every client weighs 1; examples: min(examples / weight_cap, 1) (bounded, so
    # the sum's sensitivity stays clip_norm)
    weighting: Literal["uniform", "examples"] = "uniform"
    weight_cap: float = Field(100.0, gt=0)
    # how the cohort is drawn, for the accountant: fedasr samples a fixed-size cohort without
    # replacement; poisson is the textbook DP-FedAvg assumption
    sampling: Literal["fixed_size", "poisson"] = "fixed_size"
    accountant: Literal["rdp", "pld"] = "rdp"

    @model_validator(mode="after")
    def _noise_is_defined(self) -> DPSection:
        z, eps = self.noise_multiplier, self.target_epsilon
        if self.target_action == "set_noise" and eps is not None and z is not None:
            raise ValueError(
                "give `noise_multiplier` or `target_epsilon` (target_action: set_noise "
                "derives the noise from it), not both; or set target_action: stop"
            )
        if self.target_action == "stop" and (eps is None or z is None):
            raise ValueError(
                "target_action: stop needs both `noise_multiplier` and `target_epsilon`"
            )
        if z is None and eps is None:
            raise ValueError("give `noise_multiplier` (e.g. 1.0) or `target_epsilon` (e.g. 8)")
        if self.adaptive is not None and self.mode == "local":
            raise ValueError(
                "adaptive clipping needs mode central or distributed (the count of clipped "
                "clients is noised once over the cohort); use a fixed clip_norm with local DP"
            )
        if self.accountant == "pld" and self.sampling != "poisson":
            raise ValueError("accountant: pld supports sampling: poisson only; use rdp")
        return self


class SecAggSection(_Strict):
    """Secure aggregation (Bonawitz et al. 2017; SecAgg+ of Bell et al. 2020 with `degree`)."""

    # None: every pair of clients shares a mask (SecAgg); an even k: each client has k
    # neighbours on a seeded Harary graph (SecAgg+)
    degree: int | None = Field(None, ge=2)
    # shares needed to reconstruct a secret, as a fraction of a client's share holders
    threshold: float = Field(0.6, gt=0.5, le=1)
    bits: Literal[32, 64] = 32  # the ring Z_2^bits
    clip_range: float = Field(1.0, gt=0)  # each coordinate of an update is clipped to +-this
    max_weight: float = Field(1.0, gt=0)  # clients' aggregation weights must not exceed it

    @model_validator(mode="after")
    def _degree_is_even(self) -> SecAggSection:
        if self.degree is not None and self.degree % 2:
            raise ValueError(f"degree must be even (a Harary graph); got {self.degree}")
        return self


class TrustSection(_Strict):
    attacks: list[AttackGroup] = Field(default_factory=list)
    robust: RobustSection = Field(default_factory=RobustSection)
    dp: DPSection | None = None
    secagg: SecAggSection | None = None

    @model_validator(mode="after")
    def _compatible(self) -> TrustSection:
        individual = self.robust.kind != "mean" or self.robust.clip is not None
        if self.dp is not None and individual:
            raise ValueError(
                "dp's guarantee is for the noised sum of clipped updates: use robust.kind "
                "`mean` without `clip` (dp.clip_norm does the clipping)"
            )
        if self.secagg is not None and individual:
            raise ValueError(
                "secagg hides individual updates, so robust.kind must be `mean` without `clip` "
                "(clip on the clients with dp.clip_norm instead)"
            )
        return self


def parse_trust(raw: dict[str, Any] | None, source: str = "trust") -> TrustSection:
    """Validate a raw `trust:` mapping; errors name the key, the value and what is accepted."""
    try:
        return TrustSection.model_validate(raw or {})
    except ValidationError as err:
        lines = [f"{source}: invalid config"]
        for item in err.errors():
            key = ".".join(str(part) for part in ("trust", *item["loc"]))
            if item["type"] == "extra_forbidden":
                allowed = ", ".join(_section_at(item["loc"][:-1]).model_fields)
                lines.append(f"  {key}: unknown key; allowed keys here: {allowed}")
                continue
            got = item.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"  {key}: {item['msg']}{shown}")
        raise ConfigError("\n".join(lines)) from None


def _section_at(loc: tuple[Any, ...]) -> type[BaseModel]:
    """The section class a validation error's location points into (list items skipped)."""
    model: type[BaseModel] = TrustSection
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[str(part)].annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        for candidate in candidates:
            inner = [candidate, *getattr(candidate, "__args__", ())]
            found = [c for c in inner if isinstance(c, type) and issubclass(c, BaseModel)]
            if found:
                model = found[0]
                break
    return model
