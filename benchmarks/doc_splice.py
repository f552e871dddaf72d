"""Generated tables inside a hand-written Markdown document: the text between two marker lines
is replaced, the rest kept, so a results page carries its script's output, never a hand copy."""

from __future__ import annotations

from pathlib import Path

BEGIN = "<!-- generated: begin (do not edit; the command above writes it) -->"
END = "<!-- generated: end -->"


def splice(doc: Path, text: str) -> None:
    """Put `text` between doc's BEGIN and END lines, atomically; a doc without both markers is
    an error, named, before anything is written."""
    current = doc.read_text()
    if (
        current.count(BEGIN) != 1
        or current.count(END) != 1
        or current.index(BEGIN) > current.index(END)
    ):
        raise SystemExit(f"{doc}: needs one line {BEGIN!r} and, after it, one line {END!r}")
    head, rest = current.split(BEGIN)
    tail = rest.split(END)[1]
    tmp = doc.with_name(doc.name + ".tmp")
    tmp.write_text(f"{head}{BEGIN}\n{text.strip()}\n{END}{tail}")
    tmp.replace(doc)
