"""What end-to-end encryption costs the browsers: `python bench/e2ee_cpu_bench.py`.

Three Chromium pages (a facilitator and two members, fake camera and microphone) in one session,
once per `e2ee` setting (`off`, then `required`). Once every page shows both others' video, the CPU
time of all the browser's processes (renderers, GPU, network, the encryption workers inside the
renderers) and of the server is read from /proc over `--seconds`, and printed as a share of one core.
Everything shares this machine's cores, so run it on a quiet machine and compare the two lines of
one run rather than runs on different days.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.web.hearth_process import CHROMIUM, CHROMIUM_ARGS, start_server  # noqa: E402
from tests.web.people import LIVE_JS  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        out.setdefault(ppid, []).append(int(entry.name))
    return out


def subtree(root: int, tree: dict[int, list[int]]) -> set[int]:
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += tree.get(pid, [])
    return found


def cpu_seconds(pids: set[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def measure(mode: str, seconds: float) -> tuple[float, float]:
    server = start_server(Path(tempfile.mkdtemp(prefix="hearth-bench-")))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            created = server.create_session("CPU bench", requires_agreement=False, admission="open", e2ee=mode)
            urls = [created["facilitator_url"]] + [server.invite(created["id"], n)["url"] for n in ("Alex", "Sam")]
            pages = []
            for url in urls:
                page = browser.new_context().new_page()
                page.goto(url)
                page.get_by_test_id("join-button").click()
                pages.append(page)
            seen = (("Alex", "Sam"), ("Facilitator", "Sam"), ("Facilitator", "Alex"))  # by each page, in order
            for page, others in zip(pages, seen, strict=True):
                expect(page.get_by_test_id("video-grid")).to_be_visible(timeout=20_000)
                for name in others:
                    page.wait_for_function(LIVE_JS, arg=[name, 30], timeout=30_000)
            tree = children()
            everything = subtree(os.getpid(), tree)
            server_pids = subtree(server.process.pid, tree)
            browser_pids = everything - server_pids - {os.getpid()}
            start = time.monotonic()
            b0, s0 = cpu_seconds(browser_pids), cpu_seconds(server_pids)
            time.sleep(seconds)  # a bench measures over time; tests never sleep
            elapsed = time.monotonic() - start
            b1, s1 = cpu_seconds(browser_pids), cpu_seconds(server_pids)
            status = pages[1].get_by_test_id("e2ee-status").get_attribute("data-status")
            browser.close()
    finally:
        server.stop()
    print(
        f"e2ee {mode:8s} ({status}): browser {100 * (b1 - b0) / elapsed:.0f} % of a core for 3 pages,"
        f" server {100 * (s1 - s0) / elapsed:.0f} %, over {elapsed:.1f} s",
        flush=True,
    )
    return (b1 - b0) / elapsed, (s1 - s0) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing", file=sys.stderr)
        return 2
    off, _ = measure("off", args.seconds)
    on, _ = measure("required", args.seconds)
    print(f"encryption adds {100 * (on - off):.0f} % of a core across 3 pages ({100 * (on - off) / 3:.0f} % a page)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
