"""The preset table of docs/models.md, generated from the code so the docs cannot drift.

`python -m fedasr.models.table` prints it; a test compares it with the docs.
"""

from __future__ import annotations

from dataclasses import dataclass

from fedasr.models.conformer import build_model, count_parameters
from fedasr.models.dims import ConformerDims
from fedasr.models.flops import flops_per_audio_second
from fedasr.models.presets import PRESETS, preset_dims

CHAR_VOCAB = 29  # blank, word separator, a-z, apostrophe
UTTERANCE_SECONDS = 4.0  # attention is quadratic in length: the figures assume 4 s utterances


@dataclass(frozen=True)
class PresetRow:
    name: str
    dims: ConformerDims
    parameters: int
    gflops_per_second: tuple[float, ...]  # forward, one value per exit, shallow first


def preset_rows(vocab: int = CHAR_VOCAB) -> list[PresetRow]:
    rows = []
    for name in PRESETS:
        dims = preset_dims(name, vocab=vocab)
        per_exit = tuple(
            flops_per_audio_second(dims, depth, UTTERANCE_SECONDS) / 1e9
            for depth in range(1, len(dims.exits) + 1)
        )
        rows.append(PresetRow(name, dims, count_parameters(build_model(dims)), per_exit))
    return rows


HEADER = (
    "| preset | layers × d_model | heads × head size | FFN | conv channels, kernel "
    "| exits after layer | parameters | forward GFLOPs per s of audio, per exit |"
)


def markdown_table(rows: list[PresetRow] | None = None) -> str:
    lines = [HEADER, "|" + " --- |" * 8]
    for row in rows or preset_rows():
        d = row.dims
        lines.append(
            f"| {row.name} | {d.layers} × {d.d_model} | {d.heads} × {d.head_size} | {d.ffn} "
            f"| {d.conv_channels}, {d.conv_kernel} | {', '.join(map(str, d.exits))} "
            f"| {row.parameters:,} | {' / '.join(f'{g:.3f}' for g in row.gflops_per_second)} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
