"""`fedasr data import FORMAT SRC --out DIR`: counts, what was skipped and why, clear errors."""

from __future__ import annotations

import pytest
from helpers import build_librispeech, source_clips
from typer.testing import CliRunner

from fedasr.cli import app
from fedasr.data.manifest import read_manifest


@pytest.fixture(scope="module")
def clips():
    return source_clips(4)


def run(*args: str):
    return CliRunner().invoke(app, ["data", "import", *args])


def test_import_prints_counts_and_skips(tmp_path, clips):
    build_librispeech(tmp_path / "dev-mini", clips)
    result = run("librispeech", str(tmp_path / "dev-mini"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    speakers = len({c.speaker for c in clips})
    assert f"imported {len(clips)} utterances" in result.output
    assert f"from {speakers} speakers" in result.output
    assert "missing-audio" in result.output and "no-transcript" in result.output
    assert ".trans.txt:" in result.output  # skipped lines are named with file:line
    assert len(read_manifest(tmp_path / "out" / "dev-mini.jsonl")) == len(clips)


def test_nothing_importable_is_an_error_listing_the_skips(tmp_path):
    stm = tmp_path / "stm" / "talk.stm"
    stm.parent.mkdir()
    stm.write_text("talk 1 talk 0.0 0.5 hello there\n")
    result = run("stm", str(stm), "--out", str(tmp_path / "out"), "--unk", "drop")
    assert result.exit_code == 2
    assert "nothing to import" in result.output
    assert f"{stm}:1: [missing-audio]" in result.output
    assert run("stm", str(stm), "--out", str(tmp_path), "--unk", "maybe").exit_code == 2


def test_bad_source_exits_two_with_the_reason(tmp_path):
    result = run("commonvoice", str(tmp_path / "nope.tsv"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "no such file" in result.output
    result = run("lhotse", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "supervisions" in result.output
