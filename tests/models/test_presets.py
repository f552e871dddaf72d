"""Presets: sizes as documented (docs/models.md is compared with the code), sane shapes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fedasr.errors import ConfigError
from fedasr.models.conformer import build_model, count_parameters
from fedasr.models.presets import PRESETS, preset_dims
from fedasr.models.table import CHAR_VOCAB, markdown_table, preset_rows

DOCS = Path(__file__).resolve().parents[2] / "docs" / "models.md"
TABLE_BLOCK = re.compile(r"<!-- preset-table:start -->\n(.*?)\n<!-- preset-table:end -->", re.S)


def documented_table() -> str:
    found = TABLE_BLOCK.search(DOCS.read_text())
    assert found, f"{DOCS}: no <!-- preset-table:start/end --> block"
    return found.group(1)


def documented_parameters() -> dict[str, int]:
    lines = documented_table().splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    column = header.index("parameters")
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    return {row[0]: int(row[column].replace(",", "")) for row in rows}


def test_docs_table_is_the_generated_one() -> None:
    rows = preset_rows()
    assert documented_table() == markdown_table(rows), (
        "docs/models.md is stale: paste the output of `python -m fedasr.models.table`"
    )


def test_documented_parameter_counts_are_the_built_models() -> None:
    documented = documented_parameters()
    assert sorted(documented) == sorted(PRESETS)
    for name, count in documented.items():
        model = build_model(preset_dims(name, vocab=CHAR_VOCAB))
        assert count_parameters(model) == count, name


def test_tiny_is_about_one_million_and_base_is_twelve_by_256() -> None:
    counts = documented_parameters()
    assert 0.8e6 < counts["tiny"] < 1.3e6
    assert counts["tiny"] < counts["small"] < counts["base"]
    base = preset_dims("base")
    assert (base.layers, base.d_model) == (12, 256)


def test_unknown_preset_names_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match="allowed: tiny, small, base"):
        preset_dims("huge")
