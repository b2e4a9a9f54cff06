"""A person in Firefox ESR, for the browser tests: tests/web/firefox_driver.mjs (puppeteer-core over
WebDriver BiDi) runs Firefox; this class sends it one request at a time and waits for the answer.

Fails (never skips) when firefox-esr, node or puppeteer-core is missing: a green run must mean
Firefox was really driven.
"""

from __future__ import annotations

import contextlib
import json
import queue
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.web.hearth_process import ROOT
from tests.web.people import ARTIFACTS, LIVE_FRAMES, SIZES

FIREFOX = Path("/usr/bin/firefox-esr")
DRIVER = Path(__file__).with_name("firefox_driver.mjs")
PUPPETEER = ROOT / "web" / "node_modules" / "puppeteer-core"
ANSWER_TIMEOUT_S = 60.0  # the driver's own waits time out at 30 s and answer with an error

# The same measurement as people.FRAMES_JS: a tile's decoded frame count and picture size.
FRAMES_JS = """() => {
  const v = document.querySelector('[data-testid="tile"][data-name="%s"] video');
  return v ? {width: v.videoWidth, frames: v.hearthFrames ?? 0} : null;
}"""


class FirefoxPerson:
    def __init__(self, name: str, url: str) -> None:
        if not FIREFOX.exists():
            pytest.fail(f"{FIREFOX} is missing: apt-get install -y firefox-esr")
        node = shutil.which("node")
        if not node or not PUPPETEER.exists():
            pytest.fail("node and puppeteer-core are needed: cd web && PUPPETEER_SKIP_DOWNLOAD=1 npm ci")
        self.name, self.url = name, url
        self.log = (ARTIFACTS / "logs").joinpath(f"firefox-{name.lower()}.log")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._stderr = self.log.open("w")
        self.process = subprocess.Popen(
            [node, str(DRIVER)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True
        )
        self._answers: queue.Queue[dict[str, Any]] = queue.Queue()
        self._next = 0
        threading.Thread(target=self._read, daemon=True).start()
        ready = self._answers.get(timeout=ANSWER_TIMEOUT_S)
        assert ready.get("ready"), ready
        self.version: str = ready["version"]

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip():
                self._answers.put(json.loads(line))

    def request(self, op: str, **args: Any) -> Any:
        self._next += 1
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"id": self._next, "op": op, **args}) + "\n")
        self.process.stdin.flush()
        try:
            answer = self._answers.get(timeout=ANSWER_TIMEOUT_S)
        except queue.Empty:
            raise AssertionError(f"Firefox did not answer {op} {args}; see {self.log}") from None
        assert answer.get("id") == self._next, answer
        if not answer["ok"]:
            if op != "screenshot":
                self.screenshot(f"firefox-failed-{op}")
            raise AssertionError(f"Firefox {op} {args}: {answer['error']}")
        return answer["result"]

    def wait(self, js: str, timeout_ms: int = 30_000) -> None:
        self.request("wait", js=js, timeout=timeout_ms)

    def evaluate(self, js: str) -> Any:
        return self.request("eval", js=js)

    def click(self, testid: str) -> None:
        self.request("click", testid=testid)

    def wait_text(self, testid: str, text: str) -> None:
        """The element with `testid` shows `text` (somewhere in its text)."""
        self.wait(
            f"() => document.querySelector('[data-testid=\"{testid}\"]')?.textContent.includes({json.dumps(text)})"
        )

    def open(self) -> None:
        self.request("goto", url=self.url)
        self.wait_text("join-screen", "You are joining as")

    def join(self) -> None:
        if self.evaluate("() => !document.querySelector('[data-testid=\"agreement\"]')?.hidden"):
            self.click("agree-checkbox")
        self.click("join-button")

    def frames_of(self, name: str) -> dict[str, float] | None:
        result: dict[str, float] | None = self.evaluate(FRAMES_JS % name)
        return result

    def wait_video_live(self, name: str) -> None:
        """A picture from `name`, and frames that keep coming: LIVE_FRAMES more after the first
        three (an event, as `Person.wait_video_live` waits for it in Chromium)."""
        self.wait(f"() => {{ const f = ({FRAMES_JS % name})(); return f && f.width > 0 && f.frames >= 3; }}")
        before = self.frames_of(name)
        assert before, f"{self.name} lost the tile of {name}"
        goal = before["frames"] + LIVE_FRAMES
        self.wait(f"() => {{ const f = ({FRAMES_JS % name})(); return f && f.width > 0 && f.frames >= {goal}; }}")

    def screenshot(self, label: str) -> None:
        with contextlib.suppress(AssertionError):  # a picture for the record; its failure is not the test's
            self.request("screenshot", path=str(ARTIFACTS / f"{label}-{self.name.lower()}.png"))

    def at_sizes(self, label: str, check: Callable[[], None] = lambda: None) -> None:
        """As `Person.at_sizes` in Chromium: at 1280x800 and 390x844 run `check`, find no axe finding
        of any impact, and keep a screenshot of each; the laptop's size again after."""
        try:
            for width, height in SIZES:
                self.request("viewport", width=width, height=height)
                check()
                problems = self.request("axe")
                assert problems == [], f"{self.name}'s {label} in Firefox at {width}x{height}: {problems}"
                self.screenshot(f"{label}-{width}x{height}")
        finally:
            self.request("viewport", width=SIZES[0][0], height=SIZES[0][1])

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self._stderr.close()
