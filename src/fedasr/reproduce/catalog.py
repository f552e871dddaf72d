"""The catalog of experiments behind docs/ (benchmarks/experiments.yaml), read and checked.

A bad entry is an error naming the file, the experiment and the key before anything runs.
"""

from __future__ import annotations

import contextlib
import shlex
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fedasr.errors import ConfigError
from fedasr.reproduce.runs import RunSpec

CATALOG = Path("benchmarks") / "experiments.yaml"


class RunEntry(BaseModel):
    """`run: CONFIG k=v ...` (federated) or `train: CONFIG k=v ...` (centralized)."""

    model_config = ConfigDict(extra="forbid")
    run: str | None = None
    train: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> RunEntry:
        if (self.run is None) == (self.train is None):
            raise ValueError("give exactly one of `run:` or `train:`")
        return self

    def spec(self, root: Path) -> RunSpec:
        words = shlex.split(self.run if self.run is not None else str(self.train))
        if not words:
            raise ValueError("empty command")
        if self.run is not None:
            return RunSpec("fl", root / words[0], tuple(words[1:]))
        return RunSpec("central", root / words[0], tuple(words[1:]))


class Experiment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    doc: str
    minutes: float = Field(gt=0)
    about: str
    runs: list[RunEntry] = Field(default_factory=list)
    steps: list[str] = Field(default_factory=list)


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")
    experiments: list[Experiment]

    def find(self, name: str) -> Experiment:
        for experiment in self.experiments:
            if experiment.name == name:
                return experiment
        known = ", ".join(e.name for e in self.experiments)
        raise ConfigError(f"reproduce: no experiment named {name!r}; known: {known}, all")


def repository_root(start: Path | None = None) -> Path:
    """The checkout holding benchmarks/experiments.yaml: the current directory or a parent."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CATALOG).is_file():
            return folder
    raise ConfigError(
        f"reproduce: no {CATALOG} in {here} or its parents; run it from a fedasr checkout "
        "(the experiments use its configs/, scripts/ and benchmarks/)"
    )


def load_catalog(root: Path) -> Catalog:
    path = root / CATALOG
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {error}") from error
    try:
        catalog = Catalog.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(f"{_where(data, e['loc'])}: {e['msg']}" for e in error.errors())
        raise ConfigError(f"{path}: {problems}") from error
    names = [e.name for e in catalog.experiments]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: experiment names repeat: {names}")
    return catalog


def _where(data: Any, loc: tuple[Any, ...]) -> str:
    """experiments.3.runs.0 -> experiments[early-exit].runs.0: name the experiment."""
    parts = [str(part) for part in loc]
    if len(loc) > 1 and loc[0] == "experiments" and isinstance(loc[1], int):
        with contextlib.suppress(KeyError, IndexError, TypeError):
            parts[1] = f"[{data['experiments'][loc[1]]['name']}]"
    return ".".join(parts).replace(".[", "[")
