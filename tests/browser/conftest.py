"""Headless Chromium (Debian's, never a downloaded one) for the browser tests."""

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse
# database access from the test body ("You cannot call this from an async context").
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        # Failing, not skipping: a run without the browser tests must not pass unnoticed.
        missing = f"{CHROMIUM} is missing: `make chromium` (or `make test`) installs it"
        if os.environ.get("MVA_SKIP_BROWSER_TESTS"):
            pytest.skip(f"{missing}; skipped as MVA_SKIP_BROWSER_TESTS asks.")
        pytest.fail(f"{missing}, or set MVA_SKIP_BROWSER_TESTS=1 to skip these tests.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()
