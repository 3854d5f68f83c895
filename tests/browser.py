"""Fixtures: a real headless Chromium for pages dagen writes or serves (a pytest plugin).

Debian's ``chromium-headless-shell`` driven by playwright (its own browser download is not
used: ``executable_path``). ``browser`` is one browser for the session; ``offline_page``
is a fresh page on which every request that is not for a ``file://`` URL is aborted and
listed in ``page.attempted``, so a test can assert that a page needs no network.
Screenshots go under ``artifacts/`` (gitignored), by ``screenshot(page, name)``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = shutil.which("chromium-headless-shell") or "/usr/lib/chromium/chromium-headless-shell"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium, once per test module (so that no module after it runs with
    playwright's event loop in its thread); fails, naming the package, when it is missing."""
    if not Path(CHROMIUM).exists():
        pytest.fail("no chromium-headless-shell: install the Debian package (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def offline_page(browser: Any) -> Iterator[Any]:
    """A page that may load ``file://`` URLs only; other requests are aborted and listed."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.attempted = []

    def guard(route: Any) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            page.attempted.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(name="screenshot")
def screenshot_fixture() -> Any:
    """``screenshot(page, name)``: the whole page as ``artifacts/<name>.png``."""

    def _shot(page: Any, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot
