"""Headless Debian Chromium for the dashboard tests, started with the flags a closed network needs.

Never `playwright install`: the test command installs Debian's chromium with apt-get
(scripts/bootstrap --browser). A missing browser fails the tests with a clear message.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("POSKAMLING_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RESULTS = Path(__file__).resolve().parents[2] / "results" / "screenshots"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: the dashboard browser tests need Debian's chromium. "
            "Run scripts/test (it installs it) or `sudo apt-get install chromium`.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def new_context(browser, make_hub) -> Iterator[Callable[..., object]]:
    """Fresh browser contexts (separate cookies); closed before the hub stops (depends on make_hub)."""
    contexts: list[object] = []

    def build(**options: object) -> object:
        context = browser.new_context(**({"viewport": {"width": 1280, "height": 860}, "locale": "id-ID"} | options))
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield build
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot() -> Callable[[object, str], Path]:
    """Save a page screenshot under results/screenshots; with UPDATE_DOCS_SCREENSHOTS=1 also in docs/."""

    def take(page: object, name: str, full_page: bool = True) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
            DOCS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS / path.name)
        return path

    return take
