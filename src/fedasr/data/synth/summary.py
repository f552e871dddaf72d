"""The table printed after a build: speakers, clips and audio per engine and split."""

from __future__ import annotations

from rich.table import Table

from fedasr.data.synth.corpus import BuiltCorpus, present_splits
from fedasr.data.synth.render import SAMPLE_RATE


def summary_rows(built: BuiltCorpus) -> list[tuple[str, str, int, int, float]]:
    """(engine, split, speakers, utterances, audio minutes), engines in plan order."""
    engines = list(dict.fromkeys(spec.speaker.engine for spec in built.plan))
    rows = []
    for engine in engines:
        for split in present_splits(built.plan):
            specs = [s for s in built.plan if s.speaker.engine == engine and s.split == split]
            if specs:
                frames = sum(built.frames[s.index] for s in specs)
                speakers = len({s.speaker.id for s in specs})
                rows.append((engine, split, speakers, len(specs), frames / SAMPLE_RATE / 60))
    return rows


def summary_table(built: BuiltCorpus) -> Table:
    table = Table(title=f"corpus {built.out} ({built.seconds_taken:.1f} s)")
    for column in ("engine", "split", "speakers", "utterances", "audio min"):
        table.add_column(column, justify="left" if column in ("engine", "split") else "right")
    rows = summary_rows(built)
    for engine, split, speakers, utterances, minutes in rows:
        table.add_row(engine, split, str(speakers), str(utterances), f"{minutes:.2f}")
    total_minutes = sum(row[4] for row in rows)
    table.add_section()
    table.add_row(
        "all",
        "",
        str(len({s.speaker.id for s in built.plan})),
        str(len(built.plan)),
        f"{total_minutes:.2f}",
    )
    return table
