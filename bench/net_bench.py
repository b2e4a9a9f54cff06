"""Hearth beside direct peer-to-peer under weak home networks (issue #16): `python bench/net_bench.py`.

Builds the network lab of tests/net (one namespace per member, joined by a userspace link emulator;
needs root), puts a Hearth room of three Chromium members (Lee facilitates, Alex holds the floor, Sam
is on the weak link) and, beside it, two Chromium pages connected directly (standing in for Alex and
Sam, with the Hearth client's own capture and connection code), and measures each in turn (the
other's cameras off: tests/net/side_by_side.py) under each condition (tests/net/conditions.py): a
clean network, 2% and 10% random loss on every member's links, 30+-20 ms jitter, Sam capped at 400
kbit/s, and a 3 s outage of Sam's links.

For each condition it prints, per system, the mean over received streams of freezes per minute,
seconds frozen, frames per second, audio concealed, the share of packets senders retransmitted and
(Hearth) the share the server sent again; then each stream (-v). For the outage it repeats the cut
``--outages`` times and prints, over every subscriber of every run, the time from the end of the
outage to the first new frame and to video flowing again (p50, p95, max), keyframe requests and the
downlink burst. Goal (issue #16): Hearth's p95 to the first new frame at most 1 s.

Every window is printed with what the machine was doing (the lab's own CPU, the machine's, the load
average): these cores are shared, and a starved browser freezes whatever the network does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402
from tests.net.conditions import CONDITIONS, OUTAGE  # noqa: E402
from tests.net.figures import Cell, Recovery, percentile  # noqa: E402
from tests.net.side_by_side import SideBySide  # noqa: E402

HEADER = (
    f"{'condition':<20} {'system':<7} {'freezes/min':>11} {'frozen s':>9} {'fps':>5} {'concealed':>9} "
    f"{'sender rtx':>10} {'server rtx':>10} {'Sam in kbit/s':>13}"
)


def row(cell: Cell) -> str:
    server = "" if cell.server_repeats is None else f"{100 * cell.server_repeats:.1f}%"
    sam_in = sum(s.kbps for s in cell.streams if s.receiver == "Sam")
    return (
        f"{cell.condition:<20} {cell.system:<7} {cell.freezes_per_minute:>11.1f} {cell.frozen_seconds:>9.2f} "
        f"{cell.fps:>5.1f} {100 * cell.concealed:>8.1f}% {100 * cell.retransmitted_sent:>9.1f}% {server:>10} "
        f"{sam_in:>13.0f}"
    )


def spread(label: str, values: list[float | None]) -> str:
    seen = [v for v in values if v is not None]
    never = len(values) - len(seen)
    if not seen:
        return f"{label}: never ({never} of {len(values)})"
    return (
        f"{label}: p50 {statistics.median(seen):.2f} s, p95 {percentile(seen, 0.95):.2f} s, max {max(seen):.2f} s"
        f" over {len(values)} subscriber-runs" + (f", {never} never" if never else "")
    )


def outages(lab: SideBySide, runs: int, settle: float, after: float, verbose: bool) -> None:
    print(f"\n{OUTAGE.name} of Sam's links, {runs} runs (every video to and from Sam, at every subscriber):")
    recovered: dict[str, list[Recovery]] = {"hearth": [], "p2p": []}
    bursts: dict[str, list[float]] = {}
    for run in range(runs):
        outage = lab.outage(OUTAGE.outage, settle, after)
        recovered["hearth"] += outage.hearth
        recovered["p2p"] += outage.p2p
        for role, ratio in outage.bursts.items():
            bursts.setdefault(role, []).append(ratio)
        print(f"  run {run + 1}: {outage.load}")
        if verbose:
            for system, recoveries in (("hearth", outage.hearth), ("p2p", outage.p2p)):
                for r in recoveries:
                    print(f"    {system:<7} {r}")
    for system, recoveries in recovered.items():
        print(f"  {system:<7}" + spread("first new frame", [r.first for r in recoveries]))
        print(f"  {'':<7}" + spread("video flowing", [r.back for r in recoveries]))
        requests = sum(r.keyframe_requests for r in recoveries)
        print(f"  {'':<7}keyframe requests from subscribers: {requests:.0f} in {len(recoveries)} subscriber-runs")
    for role, ratios in bursts.items():
        print(f"  {role} downlink after the outage, peak over the rate before: max {max(ratios):.1f}x")
    p95 = [r.first for r in recovered["hearth"] if r.first is not None]
    met = len(p95) == len(recovered["hearth"]) and bool(p95) and percentile(p95, 0.95) <= 1.0
    print(f"  goal (Hearth p95 to the first new frame <= 1 s): {'met' if met else 'not met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--window", type=float, default=60.0, help="seconds measured per condition")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds clean, then seconds of the condition, first")
    parser.add_argument("--outages", type=int, default=10, help="outage runs")
    parser.add_argument("--after", type=float, default=10.0, help="seconds watched after each outage's end")
    names = [c.name for c in CONDITIONS]
    listed = ", ".join(names).replace("%", "%%")  # argparse formats help with %
    parser.add_argument("--conditions", nargs="*", default=names, choices=names, metavar="NAME", help=listed)
    parser.add_argument("--seed", type=int, default=None, help="seed for the links' random draws")
    parser.add_argument(
        "--hearth-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="a setting for the server, as --hearth-arg=--python-forwarding (repeat)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print every stream and every recovery")
    parser.add_argument("--logs", type=Path, default=None, help="keep the server's log here (default: discarded)")
    args = parser.parse_args()

    expect.set_options(timeout=60_000)
    print(describe(), flush=True)
    chosen = [c for c in CONDITIONS if c.name in args.conditions]
    with sync_playwright() as playwright, tempfile.TemporaryDirectory(prefix="net-bench-") as temporary:
        logs = args.logs or Path(temporary)
        logs.mkdir(parents=True, exist_ok=True)
        lab = SideBySide(playwright, logs, seed=args.seed, hearth_args=tuple(args.hearth_arg)).start()
        try:
            windows = [c for c in chosen if not c.outage]
            if windows:
                print(f"\n{args.window:.0f} s a cell, each system in turn; means over received streams")
                print(HEADER)
            for condition in windows:
                hearth, p2p = lab.measure(condition, args.window, args.settle)
                for cell in (hearth, p2p):
                    print(row(cell))
                    if args.verbose:
                        print("\n".join(cell.details()))
                print(f"{'':<20} ({hearth.load})", flush=True)
            if OUTAGE in chosen:
                outages(lab, args.outages, args.settle, args.after, args.verbose)
        finally:
            lab.close()


if __name__ == "__main__":
    main()
