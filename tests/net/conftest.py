"""Fixtures for the network laboratory: Playwright for the browsers in lab namespaces.

The lab needs root (network namespaces, TUN devices) and Debian's Chromium and coturn; a missing
part fails the tests, it never skips them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Playwright, expect, sync_playwright

expect.set_options(timeout=30_000)  # joins across emulated links on shared, 2-core machines


# Module scope: the sync API's loop must not outlive this directory's tests (async tests elsewhere).
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p
