"""The HTML report in a real browser: headless Chromium (Debian's package) driven by
Playwright. Every image decodes, every table has rows, nothing is logged to the console, the
page does not scroll sideways at laptop widths, and a screenshot is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_runs import central_records, federated_records, write_run

from fedasr.report.browser import check_page, main
from fedasr.report.build import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five runs with long labels (the demo's shape): the widest table a report makes."""
    root = tmp_path_factory.mktemp("browser")
    dirs = [write_run(root / name, federated_records(kind)) for name, kind in
            (("a", "base"), ("b", "fast"), ("c", "base"), ("d", "fast"))]  # fmt: skip
    dirs.append(write_run(root / "central", central_records()))
    labels = {path: f"a rather long run label number {i}" for i, path in enumerate(dirs)}
    report = write_report(dirs, root / "out", labels=labels, intro=["What this page shows."])
    return report.html


def test_report_renders_fully_at_a_laptop_width(report_html: Path, tmp_path: Path):
    shot = tmp_path / "report-1280.png"
    check = check_page(report_html, width=1280, screenshot=shot)
    assert check.problems == []
    # the summary and the cost-to-target table
    assert check.facts["images"] >= 7 and check.facts["tables"] == 2
    assert check.facts["title"].startswith("fedasr report")
    assert "What was trained" in check.facts["firstScreen"]
    assert shot.read_bytes().startswith(PNG_MAGIC) and shot.stat().st_size > 50_000


def test_a_broken_page_is_caught(tmp_path: Path):
    """The check can fail: a missing image, a script error and a wide table are all seen."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>x</title></head><body>"
        '<img alt="gone" src="missing.png"><script>undefinedFunction()</script>'
        '<div class="scroll"><table><tr><td style="min-width:3000px">wide</td></tr>'
        "<tr><td>row</td></tr></table></div></body></html>"
    )
    problems = " | ".join(check_page(page, width=1000).problems)
    assert "gone" in problems and "undefinedFunction" in problems
    assert "scrolls sideways" in problems


def test_command_line_checks_at_1400_px_and_writes_a_screenshot(report_html, tmp_path, capsys):
    shot = tmp_path / "shot.png"
    assert main([str(report_html), "--width", "1400", "--screenshot", str(shot)]) == 0
    assert shot.is_file() and "problem" not in capsys.readouterr().err
    assert main([str(tmp_path / "nope.html")]) == 2
