"""The experiment schema: typed sections, YAML files, `key=value` overrides, clear errors.

Every section forbids unknown keys, so a typo fails at start naming the key and the keys that
are accepted. Algorithm-specific options live in `algorithm.*` and are validated by the chosen
algorithm's own schema (see fedasr.algorithms.registry). A run writes `config.model_dump()` as
its resolved config, which loads back to the same experiment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from fedasr.client_data.schema import CorruptGroup, HideTranscripts, PseudoLabelSection
from fedasr.devices.schema import DevicesSection
from fedasr.engine.fault_schema import FaultsSection
from fedasr.errors import ConfigError
from fedasr.server.schema import ReplaySection, StallDecaySection
from fedasr.trust.schema import TrustSection


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class FeaturesSection(Section):
    n_mels: int = Field(80, ge=8)
    frame_length_ms: float = Field(25.0, gt=0)
    frame_shift_ms: float = Field(10.0, gt=0)
    sample_rate: int = Field(16000, gt=0)


class TokenizerSection(Section):
    kind: Literal["char", "bpe"] = "char"
    bpe_vocab: int = Field(128, ge=8)


class SynthSection(Section):
    """How to build the embedded corpus when `data.corpus` does not exist yet."""

    size: Literal["fixture", "small", "default"] = "default"
    vocab: Literal["commands", "digits"] = "commands"
    seed: int = 0


class DataSection(Section):
    corpus: str = "corpora/default"
    train: str = "train.jsonl"
    test: str = "test.jsonl"
    heldout: str = "heldout.jsonl"
    synth_if_missing: SynthSection | None = Field(default_factory=SynthSection)
    cache_dir: str | None = None
    features: FeaturesSection = Field(default_factory=FeaturesSection)
    tokenizer: TokenizerSection = Field(default_factory=TokenizerSection)
    on_rate_mismatch: Literal["reject", "resample"] = "resample"
    max_utterance_seconds: float = Field(30.0, gt=0)
    unlabelled: str | None = None  # manifest of untranscribed audio (semi-supervised)
    # A server-held labelled set no client owns (FedMD's public data): the embedded corpus's
    # public.jsonl (sizes small and default), or any imported manifest; loaded only by the
    # algorithms that use it. A relative path is read from data.corpus.
    public: str = "public.jsonl"


class PartitionSection(Section):
    scheme: Literal[
        "speaker", "meta", "iid", "knob", "k_speakers", "dirichlet", "size_skew", "draw"
    ] = "speaker"
    params: dict[str, Any] = Field(default_factory=dict)
    min_utterances: int = Field(1, ge=1)
    corrupt: list[CorruptGroup] = Field(default_factory=list)  # unequal client quality
    hide_transcripts: HideTranscripts | None = None  # simulated unlabelled clients


class ModelTierSection(Section):
    """One model tier: a preset (default: model.preset) and overrides on top of model.overrides."""

    preset: Literal["tiny", "small", "base"] | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)


class ModelSection(Section):
    preset: Literal["tiny", "small", "base"] = "tiny"
    overrides: dict[str, Any] = Field(default_factory=dict)
    init_from: str | None = None
    # Model tiers for heterogeneous clients (FedKAD, FedMD, HeteroFL, per-tier FedAvg): each a
    # preset and overrides of the one ConformerCTC builder; a client trains the tier its
    # device tier names (devices.tiers.NAME.model, default: the tier called NAME).
    tiers: dict[str, ModelTierSection] = Field(default_factory=dict)
    tier: str | None = None  # the run's one model is this tier's (FedAvg all-small/all-large)

    @model_validator(mode="after")
    def _tier_is_defined(self) -> ModelSection:
        if self.tier is not None and self.tier not in self.tiers:
            defined = ", ".join(self.tiers) or "none"
            raise ValueError(f"model.tier: no tier {self.tier!r}; model.tiers defines: {defined}")
        return self


class SpecAugmentSection(Section):
    freq_masks: int = Field(2, ge=0)
    freq_width: int = Field(10, ge=0)
    time_masks: int = Field(2, ge=0)
    time_width_ratio: float = Field(0.05, ge=0, le=1)


class LRScheduleSection(Section):
    """A learning rate as a function of the round (client and server) or the epoch (centrally)."""

    kind: Literal["constant", "exponential", "step", "cosine"] = "constant"
    gamma: float = Field(0.95, gt=0)  # exponential: lr * gamma^t; step: lr * gamma^(t // every)
    every: int = Field(10, ge=1)
    min_lr: float = Field(0.0, ge=0)
    warmup: int = Field(0, ge=0)


class VariationalNoiseSection(Section):
    """Gaussian weight noise for each local step's forward/backward pass (fedasr.train.noise):
    N(0, std^2), or std times each tensor's RMS with scale=rms; from round `start_round` on
    (1 = the first round, counted as in metrics.jsonl; in `fedasr train` it counts epochs).
    std = 0 (the default) trains exactly as without this section."""

    std: float = Field(0.0, ge=0)
    start_round: int = Field(1, ge=1)
    scale: Literal["absolute", "rms"] = "absolute"


class ClientSection(Section):
    optimizer: Literal["sgd", "adamw"] = "sgd"
    lr: float = Field(0.1, gt=0)
    momentum: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    local_epochs: int = Field(1, ge=1)
    max_steps: int | None = Field(None, ge=1)
    batch_seconds: float = Field(60.0, gt=0)
    grad_clip: float | None = Field(5.0, gt=0)
    exit_weights: list[float] | None = None
    depth: int | None = Field(None, ge=1)  # train up to this exit (None = all)
    specaugment: SpecAugmentSection = Field(default_factory=SpecAugmentSection)
    lr_schedule: LRScheduleSection = Field(default_factory=LRScheduleSection)
    timeout_s: float | None = Field(None, gt=0)
    threads: int = Field(1, ge=1)
    stall_decay: StallDecaySection | None = None  # decay the rate when validation stalls
    pseudo_labels: PseudoLabelSection | None = None  # train on confident pseudo-labels
    variational_noise: VariationalNoiseSection = Field(default_factory=VariationalNoiseSection)


class ServerSection(Section):
    optimizer: Literal["sgd", "momentum", "adam", "yogi", "adagrad"] = "sgd"
    lr: float = Field(1.0, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.99, ge=0, lt=1)
    tau: float = Field(1e-3, gt=0)
    bias_correction: bool = False
    # server rate by round: Adam's normalized step does not shrink with the clients' rates, so
    # a decaying client schedule does not anneal it; this does
    lr_schedule: LRScheduleSection = Field(default_factory=LRScheduleSection)
    fallback_to_best: bool = False  # an evaluation worse than the best restores the best
    replay: ReplaySection | None = None  # train on server-held labelled data each round


class AlgorithmSection(Section):
    """`name` picks the algorithm; every other key goes to that algorithm's own schema."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)
    name: str = "fedavg"

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class RoundsSection(Section):
    total: int = Field(20, ge=1)
    clients_per_round: int = Field(8, ge=1)
    min_clients: int = Field(1, ge=1)
    max_retries: int = Field(3, ge=0)
    # a run stops with an error once this many rounds in a row were skipped (None: never)
    stop_after_skipped: int | None = Field(5, ge=1)
    # Safety cap in wall-clock minutes: stop (after a final evaluation) once exceeded. Results
    # then depend on the machine's speed; `total` is the reproducible control.
    time_budget_min: float | None = Field(None, gt=0)


class EarlyStoppingSection(Section):
    patience: int | None = Field(None, ge=1)  # evaluations without improvement before stopping
    min_delta: float = Field(0.0, ge=0)


class EvalSection(Section):
    every: int = Field(5, ge=1)
    splits: list[Literal["test", "heldout"]] = ["test", "heldout"]
    metric: str = "heldout_wer"  # what early stopping and "best" refer to
    per_client: bool = False
    max_utterances: int | None = Field(None, ge=1)
    batch_seconds: float = Field(200.0, gt=0)
    early_stopping: EarlyStoppingSection = Field(default_factory=EarlyStoppingSection)


class ExecutorSection(Section):
    kind: Literal["serial", "process", "ray"] = "serial"
    workers: int = Field(0, ge=0)  # 0 = one per CPU core
    shards: int = Field(4, ge=1)  # fixed reduction order: results are identical for any workers
    threads_per_worker: int = Field(1, ge=1)
    ray_address: str | None = None
    device: str = "cpu"


class LoggingSection(Section):
    tensorboard: bool = True
    checkpoint_every: int = Field(1, ge=1)
    keep_checkpoints: int = Field(2, ge=1)
    progress: bool = True


class CentralSection(Section):
    """Centralized baseline (`fedasr train`): one model on all training speakers."""

    epochs: int = Field(30, ge=1)
    time_budget_min: float | None = Field(10.0, gt=0)
    eval_every_epochs: int = Field(1, ge=1)


class ExperimentConfig(Section):
    name: str = "experiment"
    seed: int = Field(0, ge=0)
    run_dir: str = "runs/{name}"
    data: DataSection = Field(default_factory=DataSection)
    partition: PartitionSection = Field(default_factory=PartitionSection)
    model: ModelSection = Field(default_factory=ModelSection)
    client: ClientSection = Field(default_factory=ClientSection)
    server: ServerSection = Field(default_factory=ServerSection)
    algorithm: AlgorithmSection = Field(default_factory=AlgorithmSection)
    rounds: RoundsSection = Field(default_factory=RoundsSection)
    eval: EvalSection = Field(default_factory=EvalSection)
    executor: ExecutorSection = Field(default_factory=ExecutorSection)
    logging: LoggingSection = Field(default_factory=LoggingSection)
    central: CentralSection = Field(default_factory=CentralSection)
    devices: DevicesSection = Field(default_factory=DevicesSection)
    faults: FaultsSection = Field(default_factory=FaultsSection)  # rehearse failures
    trust: TrustSection | None = None  # attacks, robust aggregation, DP, SecAgg (docs/trust.md)

    @field_validator("run_dir")
    @classmethod
    def _run_dir_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    def resolved_run_dir(self) -> Path:
        return Path(self.run_dir.format(name=self.name))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def with_current_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """A resolved config (`model_dump(mode="json")`) written by an earlier version, with the
    keys added since at their defaults: a new key's default computes what the earlier version
    did, so it is no difference. Unchanged when it no longer validates (a key removed or
    renamed since: a real difference)."""
    try:
        return ExperimentConfig.model_validate(data).model_dump(mode="json")
    except ValidationError:
        return data


# ----------------------------------------------------------------------------- loading


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b.c=value` -> (['a', 'b', 'c'], value parsed as YAML, so 3 is int and [1,2] a list)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected key=value, e.g. rounds.total=10")
    key, raw = text.split("=", 1)
    if not key.strip():
        raise ConfigError(f"override {text!r}: the key is empty")
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    for text in overrides:
        path, value = parse_override(text)
        set_key(raw, path, value, f"override {text!r}")
    return raw


def set_key(raw: dict[str, Any], path: list[str], value: Any, where: str) -> None:
    """Set raw[a][b][c] = value for path [a, b, c], making sections on the way."""
    node = raw
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{where}: {part!r} is a value, not a section")
        node = child
    node[path[-1]] = value


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    values: dict[str, Any] | None = None,
) -> ExperimentConfig:
    """Load YAML (or defaults when `path` is None), apply overrides, validate everything.

    `values` are typed overrides applied last, {"client.lr": 0.001}: a tuner's samples need no
    round trip through text.
    """
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_yaml(Path(path))
    raw = apply_overrides(raw, list(overrides or []))
    for key, value in (values or {}).items():
        set_key(raw, key.split("."), value, key)
    source = str(path) if path is not None else "<defaults>"
    try:
        config = ExperimentConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None
    from fedasr.algorithms.registry import validate_algorithm_options

    validate_algorithm_options(config, source)
    return config


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: invalid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return raw


def format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid config"]
    for item in err.errors():
        key = ".".join(str(part) for part in item["loc"])
        if item["type"] == "extra_forbidden":
            allowed = _allowed_keys(item["loc"][:-1])
            lines.append(f"  {key}: unknown key; allowed keys here: {', '.join(allowed)}")
        else:
            got = item.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"  {key}: {item['msg']}{shown}")
    return "\n".join(lines)


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = ExperimentConfig
    in_mapping = False  # the next part is a key of a dict of sections (e.g. devices.tiers.low)
    for part in loc:
        if isinstance(part, int):  # an item of a list of sections (partition.corrupt.0)
            continue
        if in_mapping:
            in_mapping = False
            continue
        field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
        if field is None:
            return []
        annotation = field.annotation
        in_mapping = getattr(annotation, "__origin__", None) is dict
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if model is None:
            return []
    return list(model.model_fields)
