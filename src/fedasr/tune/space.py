"""The search space of `fedasr tune`: a YAML file of config keys and their distributions.

    # configs/tune/fedavg_p0.yaml
    params:
      client.lr: {type: float, low: 3.0e-4, high: 1.0e-2, log: true}
      server.lr: {type: float, low: 0.5, high: 2.0}
      client.local_epochs: {type: int, low: 1, high: 4}
      rounds.clients_per_round: {type: categorical, choices: [2, 4, 8]}

Keys are dotted config keys, as in `key=value` overrides. Types: `float` and `int` (low, high,
optional `log: true` or a `step`), `categorical` (choices: numbers, strings, booleans, null).
Every bound and choice is checked against the experiment config before a trial runs, and an
error names the file, the line and the key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fedasr.errors import ConfigError

TYPES = ("float", "int", "categorical")
FIELDS = {
    "float": ("type", "low", "high", "log", "step"),
    "int": ("type", "low", "high", "log", "step"),
    "categorical": ("type", "choices"),
}
Scalar = None | bool | int | float | str


@dataclass(frozen=True)
class Param:
    key: str
    kind: str  # float | int | categorical
    low: float = 0.0  # float and int only
    high: float = 0.0
    log: bool = False
    step: float | None = None
    choices: tuple[Scalar, ...] = ()

    def values_to_check(self) -> list[Any]:
        """The values that must each make a valid config: both bounds, or every choice."""
        if self.kind == "categorical":
            return list(self.choices)
        cast = int if self.kind == "int" else float
        return [cast(self.low), cast(self.high)]

    def suggest(self, trial: Any) -> Any:
        """Ask an Optuna trial for this key's value."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            step = int(self.step or 1)
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=step,
                                     log=self.log)  # fmt: skip
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)

    def describe(self) -> str:
        if self.kind == "categorical":
            return f"{self.key} in {list(self.choices)}"
        scale = ", log" if self.log else (f", step {self.step:g}" if self.step else "")
        return f"{self.key}: {self.kind} [{self.low:g}, {self.high:g}{scale}]"


@dataclass(frozen=True)
class SearchSpace:
    path: Path
    params: tuple[Param, ...]

    def suggest(self, trial: Any) -> dict[str, Any]:
        return {param.key: param.suggest(trial) for param in self.params}

    def as_dict(self) -> dict[str, Any]:
        """A plain form, stored with the study so a resumed study can be checked."""
        return {p.key: {k: v for k, v in vars(p).items() if k != "key"} for p in self.params}


def load_space(path: Path, check: Callable[[dict[str, Any]], object] | None = None) -> SearchSpace:
    """Read and validate a search space; `check(values)` raises ConfigError for a value the
    experiment config does not accept (it is called with each bound and choice)."""
    if not path.is_file():
        raise ConfigError(f"{path}: search space file not found")
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: invalid YAML: {err}") from None
    if not isinstance(raw, dict) or set(raw) != {"params"}:
        raise ConfigError(
            f"{path}: expected one top-level key `params:` mapping config keys to "
            "distributions, e.g. `params: {client.lr: {type: float, low: 1e-4, high: 1e-2, "
            "log: true}}`"
        )
    entries = raw["params"]
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f"{path}: params: expected a non-empty mapping of config keys")
    lines = _key_lines(root)
    params = []
    for key, spec in entries.items():
        where = f"{path}:{lines.get(str(key), 0)}: params.{key}"
        param = _param(str(key), spec, where)
        if check is not None:
            for value in param.values_to_check():
                try:
                    check({param.key: value})
                except ConfigError as err:
                    raise ConfigError(
                        f"{where}: value {value!r} is not accepted by the experiment config:\n{err}"
                    ) from None
        params.append(param)
    return SearchSpace(path, tuple(params))


def _param(key: str, spec: Any, where: str) -> Param:
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a mapping with `type:` ({', '.join(TYPES)})")
    kind = spec.get("type")
    if kind not in TYPES:
        raise ConfigError(f"{where}.type: got {kind!r}; accepted: {', '.join(TYPES)}")
    unknown = sorted(set(spec) - set(FIELDS[kind]))
    if unknown:
        raise ConfigError(
            f"{where}: unknown field(s) {', '.join(unknown)} for type {kind}; "
            f"accepted: {', '.join(FIELDS[kind])}"
        )
    if kind == "categorical":
        return Param(key, kind, choices=_choices(spec.get("choices"), where))
    return _numeric(key, kind, spec, where)


def _choices(choices: Any, where: str) -> tuple[Scalar, ...]:
    if not isinstance(choices, list) or not choices:
        raise ConfigError(f"{where}.choices: expected a non-empty list, e.g. [2, 4, 8]")
    for choice in choices:
        if choice is not None and not isinstance(choice, bool | int | float | str):
            raise ConfigError(
                f"{where}.choices: {choice!r} is a {type(choice).__name__}; accepted: numbers, "
                "strings, booleans, null"
            )
    if len(set(map(repr, choices))) != len(choices):
        raise ConfigError(f"{where}.choices: {choices} repeats a value")
    return tuple(choices)


def _numeric(key: str, kind: str, spec: dict[str, Any], where: str) -> Param:
    bounds = {}
    for name in ("low", "high"):
        value = _yaml_number(spec.get(name))
        number = int if kind == "int" else int | float
        if isinstance(value, bool) or not isinstance(value, number):
            what = "an integer" if kind == "int" else "a number"
            raise ConfigError(f"{where}.{name}: got {value!r}; accepted: {what}")
        bounds[name] = float(value)
    low, high = bounds["low"], bounds["high"]
    if low >= high:
        raise ConfigError(f"{where}: low ({low:g}) must be below high ({high:g})")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{where}.log: got {log!r}; accepted: true or false")
    if log and low <= 0:
        raise ConfigError(f"{where}: log: true needs low > 0 (got {low:g})")
    step = _yaml_number(spec.get("step"))
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, int | float) or step <= 0:
            raise ConfigError(f"{where}.step: got {step!r}; accepted: a number > 0")
        if kind == "int" and not float(step).is_integer():
            raise ConfigError(f"{where}.step: got {step!r}; an int key needs an integer step")
        if log:
            raise ConfigError(f"{where}: `step` and `log: true` cannot be combined")
    return Param(key, kind, low, high, log, None if step is None else float(step))


def _yaml_number(value: Any) -> Any:
    """PyYAML reads `1e-4` (no dot) as a string; take it as the number the user meant."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _key_lines(root: yaml.Node | None) -> dict[str, int]:
    """1-based line of each key under `params:`, for error messages."""
    lines: dict[str, int] = {}
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key_node, value_node in root.value:
        if key_node.value == "params" and isinstance(value_node, yaml.MappingNode):
            for inner, _ in value_node.value:
                lines[str(inner.value)] = inner.start_mark.line + 1
    return lines
