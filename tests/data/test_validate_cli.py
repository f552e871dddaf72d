"""`fedasr data validate`: every problem on its own `file:line` line, exit 1 / 0 / 2."""

from __future__ import annotations

import re

import pytest
from helpers import build_clean_corpus, build_faulty_corpus, source_clips
from typer.testing import CliRunner

from fedasr.cli import app
from fedasr.data.tokenizer import CharTokenizer


@pytest.fixture(scope="module")
def clips():
    return source_clips(6)


def is_problem_line(line: str, manifest) -> bool:
    """`file:line: [kind] reason` (not the summary title, which also starts with the path)."""
    return re.match(rf"{re.escape(str(manifest))}:\d+: ", line) is not None


def run(*args: str):
    return CliRunner().invoke(app, ["data", "validate", *args])


def test_clean_manifest_exits_zero(tmp_path, clips):
    result = run(str(build_clean_corpus(tmp_path, clips)))
    assert result.exit_code == 0, result.output
    assert "clean" in result.output


def test_every_problem_is_printed_and_exit_is_one(tmp_path, clips):
    manifest, expected, _ = build_faulty_corpus(tmp_path, clips)
    result = run(str(manifest))
    assert result.exit_code == 1
    printed = [line for line in result.output.splitlines() if is_problem_line(line, manifest)]
    assert [int(line.split(":")[1]) for line in printed] == sorted(expected)
    for kind in set(expected.values()):
        assert kind in result.output  # in the problem lines and the summary table


def test_resample_option_and_tokenizer_directory(tmp_path, clips):
    manifest, expected, _ = build_faulty_corpus(tmp_path, clips)
    wide = CharTokenizer("abcdefghijklmnopqrstuvwxyz'é0123456789")
    wide.save(tmp_path / "tok")
    result = run(
        str(manifest), "--on-rate-mismatch", "resample", "--tokenizer", str(tmp_path / "tok")
    )
    assert result.exit_code == 1
    assert "[sample-rate]" not in result.output and "[unsupported-chars]" not in result.output
    assert "resampled" in result.output
    assert sum(is_problem_line(line, manifest) for line in result.output.splitlines()) == (
        len(expected) - 2
    )


def test_user_errors_exit_two(tmp_path):
    assert run(str(tmp_path / "missing.jsonl")).exit_code == 2
    (tmp_path / "m.jsonl").write_text("")
    bad_policy = run(str(tmp_path / "m.jsonl"), "--on-rate-mismatch", "drop")
    assert bad_policy.exit_code == 2 and "allowed" in bad_policy.output
    assert run(str(tmp_path / "m.jsonl"), "--tokenizer", str(tmp_path)).exit_code == 2
