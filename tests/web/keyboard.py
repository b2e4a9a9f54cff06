"""Keyboard-only driving for the browser tests: press Tab and say where focus is at each stop."""

from __future__ import annotations

from playwright.sync_api import Page

# Where focus is: the element's data-testid, else its accessible label or text (a stop a test names).
FOCUSED_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return 'body';
  const label = el.getAttribute('aria-label') || el.textContent || el.tagName;
  return el.dataset.testid ?? `${el.tagName.toLowerCase()}:${label.trim().replace(/\\s+/g, ' ').slice(0, 60)}`;
}"""


def focused(page: Page) -> str:
    where: str = page.evaluate(FOCUSED_JS)
    return where


def tab_through(page: Page, expected: list[str], *, back: bool = False) -> None:
    """Press Tab (Shift+Tab with `back`) once per entry of `expected`, asserting each stop in turn."""
    seen: list[str] = []
    for want in expected:
        page.keyboard.press("Shift+Tab" if back else "Tab")
        seen.append(focused(page))
        assert seen[-1] == want, f"focus stops {seen}, expected {want!r} at stop {len(seen)}"


def stops_from_here(page: Page, count: int) -> list[str]:
    """The next `count` focus stops (for writing a test, and in failure messages)."""
    out = []
    for _ in range(count):
        page.keyboard.press("Tab")
        out.append(focused(page))
    return out
