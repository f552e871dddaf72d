"""The trust results grid: its arms in order of priority (a time budget cuts the least
important), and the generated tables spliced into a results page."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.doc_splice import BEGIN, END, splice
from benchmarks.trust_grid import ATTACKS, DEFENCES, HEADLINE_NOISE, prioritized


def test_the_first_seed_headline_comes_before_any_other_seed_or_rate() -> None:
    names = [arm.name for arm in prioritized([0, 1, 2])]
    first_other = min(i for i, n in enumerate(names) if not n.endswith("-s0") and "-s" in n)
    tier1 = set(names[:first_other])
    for defence in DEFENCES:
        assert f"{defence}-clean-s0" in tier1
        assert {f"{defence}-{attack}20-s0" for attack in ATTACKS} <= tier1
    assert {f"dp-z{z:g}-s0" for z in HEADLINE_NOISE} <= tier1
    assert {"secagg-s0", "secagg-drop30-s0", "bench_secagg"} <= tier1
    assert not any("10-s" in n or "30-s" in n for n in tier1 if "drop30" not in n)
    # the other seeds come arm by arm (both seeds of an arm together), FedAvg's first
    assert names[first_other : first_other + 2] == ["fedavg-clean-s1", "fedavg-clean-s2"]
    assert len(names) == len(set(names))


def test_every_arm_of_a_later_seed_has_that_seed_in_its_overrides() -> None:
    for arm in prioritized([0, 7]):
        if arm.name.endswith("-s7"):
            assert arm.overrides[-1] == "seed=7"
            assert not any(o == "seed=0" for o in arm.overrides)


def test_splice_replaces_only_the_generated_block(tmp_path: Path) -> None:
    doc = tmp_path / "results.md"
    doc.write_text(f"# Title\n\nprose\n{BEGIN}\nold table\n{END}\n\nmore prose\n")
    splice(doc, "| new |\n")
    assert doc.read_text() == f"# Title\n\nprose\n{BEGIN}\n| new |\n{END}\n\nmore prose\n"


def test_splice_refuses_a_doc_without_markers_and_leaves_it_whole(tmp_path: Path) -> None:
    doc = tmp_path / "results.md"
    doc.write_text(f"# Title\n{END}\n{BEGIN}\n")
    with pytest.raises(SystemExit, match=r"results\.md: needs one line"):
        splice(doc, "table")
    assert doc.read_text() == f"# Title\n{END}\n{BEGIN}\n"
