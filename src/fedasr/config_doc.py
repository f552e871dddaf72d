"""Render the config reference (docs/config.md) from the schema itself, so it cannot drift:
a test regenerates it and compares. `python -m fedasr.config_doc > docs/config.md`."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from fedasr.config import ExperimentConfig

HEADER = """# Config reference

Generated from `src/fedasr/config.py` by `python -m fedasr.config_doc > docs/config.md`
(a test fails when this file is out of date). Every section rejects unknown keys; any key can be
overridden on the command line as `section.key=value` (values are parsed as YAML).
`algorithm.*` keys besides `name` belong to the chosen algorithm (see the tables at the end).
"""


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{value}`" for value in typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"section `{annotation.__name__}`"
    text = str(annotation).replace("typing.", "")
    return text.replace("<class '", "").replace("'>", "").replace("|", "\\|")


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        return "(section)" if isinstance(value, BaseModel) else f"`{value}`"
    return f"`{field.default}`"


_BOUNDS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


def _describe(field: FieldInfo) -> str:
    """Numeric bounds from annotated-types metadata, e.g. `>= 1`."""
    bounds = []
    for constraint in field.metadata:
        for attr, symbol in _BOUNDS.items():
            value = getattr(constraint, attr, None)
            if value is not None:
                bounds.append(f"{symbol} {value}")
    return ", ".join(bounds)


def _section_rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows, nested = [], []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        candidates = [annotation, *typing.get_args(annotation)]
        sub = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if sub is not None:
            # a dict of sections (devices.tiers) is keyed by names the user picks
            key = "<name>." if typing.get_origin(annotation) is dict else ""
            nested.append((f"{prefix}{name}.{key}", sub))
            continue
        cells = [f"`{prefix}{name}`", _type_name(annotation), _default(field), _describe(field)]
        rows.append("| " + " | ".join(cells) + " |")
    for sub_prefix, sub in nested:
        rows.extend(_section_rows(sub, sub_prefix))
    return rows


def render_config_reference() -> str:
    from fedasr.algorithms.registry import REGISTRY

    lines = [HEADER, "| key | type / allowed | default | bounds |", "| --- | --- | --- | --- |"]
    lines.extend(_section_rows(ExperimentConfig, ""))
    lines.append("\n## Algorithms (`algorithm.name` and its options)\n")
    for name, entry in sorted(REGISTRY.items()):
        lines.append(f"### `{name}`\n\n{entry.summary}\n")
        lines.append("| key | type / allowed | default | bounds |\n| --- | --- | --- | --- |")
        lines.extend(_section_rows(entry.options, "algorithm."))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render_config_reference(), end="")
