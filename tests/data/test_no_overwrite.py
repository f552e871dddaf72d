"""`data import`, `data partition --out` and `data lm` never replace a file without --overwrite:
the file at that path may be the user's own (a hand-made manifest, a tuned LM)."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import build_librispeech, source_clips
from typer.testing import CliRunner

from fedasr.cli import app
from fedasr.data.manifest import read_manifest

MINI = Path(__file__).resolve().parents[1] / "fixtures" / "mini"
USERS_OWN = "the user's own file\n"


def run(*args: object):
    return CliRunner().invoke(app, [str(arg) for arg in args])


def users_file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(USERS_OWN)
    return path


def assert_refused(result, path: Path) -> None:
    assert result.exit_code == 2, result.output
    assert f"{path} exists" in result.output and "--overwrite" in result.output
    assert path.read_text() == USERS_OWN
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_import_refuses_an_existing_manifest_then_overwrite_replaces_it(tmp_path):
    clips = source_clips(4)
    build_librispeech(tmp_path / "dev-mini", clips)
    target = users_file(tmp_path / "out" / "dev-mini.jsonl")
    args = ("data", "import", "librispeech", tmp_path / "dev-mini", "--out", tmp_path / "out")
    assert_refused(run(*args), target)
    assert not (tmp_path / "out" / "dev-mini.skipped.txt").exists()  # nothing at all written
    assert run(*args, "--overwrite").exit_code == 0
    assert len(read_manifest(target)) == len(clips)


def test_partition_refuses_an_existing_out_before_partitioning(tmp_path):
    target = users_file(tmp_path / "clients.json")
    args = ("data", "partition", MINI / "train.jsonl", "--out", target)
    assert_refused(run(*args), target)
    result = run(*args, "--overwrite")
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())  # {client: [ids]}


def test_lm_refuses_an_existing_arpa(tmp_path):
    target = users_file(tmp_path / "lm.arpa")
    assert_refused(run("data", "lm", MINI / "train.jsonl", target), target)
    assert (
        run("data", "lm", MINI / "train.jsonl", target, "--overwrite", "--order", 2).exit_code == 0
    )
    assert target.read_text().startswith("\\data\\")
