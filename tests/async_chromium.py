"""Debian's Chromium under Playwright's async API, for tests that drive a page and aiortc peers in one
event loop (the browser suites in tests/web use the sync API). Import ``browser`` into a test module
to use it as a fixture; the test fails, never skips, when Chromium is missing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from tests.web.hearth_process import CHROMIUM, CHROMIUM_ARGS


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()
