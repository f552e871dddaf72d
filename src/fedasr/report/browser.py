"""Open a report in a real browser (headless Chromium driven by Playwright) and check what a
reader sees: every image decoded, every table filled, no console errors, no sideways scrolling
at a laptop's width; save a screenshot.

    python -m fedasr.report.browser runs/demo/report.html --screenshot docs/demo_report.png

Uses the system's Chromium (Debian's `chromium` package; `scripts/install-system-deps.sh
--test` installs it), never a browser download. Playwright is in the `dev` extra.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fedasr.errors import FedasrError

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# No sandbox (CI runs as root); no GPU, no network chatter beyond the page itself (the machine
# has no network, and the report needs none: it is one self-contained file).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-quic", "--no-first-run", "--disable-default-apps",
]  # fmt: skip
PAGE_FACTS = """() => {
  const images = [...document.images];
  const tables = [...document.querySelectorAll('table')];
  const root = document.scrollingElement;
  return {
    images: images.length,
    broken: images.filter(i => !i.complete || i.naturalWidth === 0)
      .map(i => i.alt || i.src.slice(0, 40)),
    tables: tables.length,
    emptyTables: tables.filter(t => t.rows.length < 2).length,
    wideBoxes: [...document.querySelectorAll('.scroll')]
      .filter(b => b.scrollWidth > b.clientWidth + 1).length,
    pageWidth: root.scrollWidth,
    viewWidth: root.clientWidth,
    title: document.title,
    firstScreen: document.body.innerText.slice(0, 600),
  };
}"""


class BrowserError(FedasrError):
    """No usable Chromium, or Playwright is missing."""


@dataclass
class PageCheck:
    """What the browser saw; `problems` is empty when the page is fine."""

    facts: dict[str, Any]
    console_errors: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def problems(self) -> list[str]:
        found = [f"console: {message}" for message in self.console_errors]
        if self.facts["broken"]:
            found.append(f"images that did not load: {self.facts['broken']}")
        if self.facts["images"] == 0:
            found.append("no images")
        if self.facts["tables"] == 0 or self.facts["emptyTables"]:
            found.append(f"{self.facts['emptyTables']} empty of {self.facts['tables']} tables")
        if self.facts["pageWidth"] > self.facts["viewWidth"] or self.facts["wideBoxes"]:
            found.append(
                f"scrolls sideways: page {self.facts['pageWidth']} px in a "
                f"{self.facts['viewWidth']} px window, {self.facts['wideBoxes']} wide table(s)"
            )
        return found


def find_chromium() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise BrowserError(
        "no Chromium found (looked for chromium, chromium-browser, google-chrome); on Debian: "
        "bash scripts/install-system-deps.sh --test (apt-get install chromium)"
    )


def check_page(html: Path, width: int = 1400, screenshot: Path | None = None) -> PageCheck:
    """Load `html` at `width` x 900 px, wait for it to settle, and report what was seen."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        raise BrowserError("Playwright is missing: pip install -e '.[dev]'") from error
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="fedasr-chromium-") as profile, sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            profile, executable_path=find_chromium(), args=CHROMIUM_ARGS, headless=True,
            viewport={"width": width, "height": 900}, offline=True,
        )  # fmt: skip
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url[:80]}"))
            page.goto(html.resolve().as_uri(), wait_until="load")
            facts = page.evaluate(PAGE_FACTS)
            if screenshot is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return PageCheck(facts, errors, screenshot)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", type=Path)
    parser.add_argument("--width", type=int, default=1400, help="window width in px")
    parser.add_argument("--screenshot", type=Path, help="save a full-page PNG here")
    args = parser.parse_args(argv)
    if not args.html.is_file():
        print(f"error: {args.html}: no such file", file=sys.stderr)
        return 2
    try:
        check = check_page(args.html, args.width, args.screenshot)
    except BrowserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    facts = check.facts
    print(f"{args.html}: {facts['images']} images, {facts['tables']} tables, page "
          f"{facts['pageWidth']} px wide in a {facts['viewWidth']} px window")  # fmt: skip
    if check.screenshot:
        print(f"screenshot -> {check.screenshot}")
    for problem in check.problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if check.problems else 0


if __name__ == "__main__":
    sys.exit(main())
