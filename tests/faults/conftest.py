"""The fault tests' shared fixtures: Chromium under the async API (tests/faults/test_media_browser.py)."""

from tests.async_chromium import browser

__all__ = ["browser"]
