"""A Hearth room and a direct peer-to-peer pair in one lab, measured at the same moments under the same links.

Both run at once, each member in a namespace of their own: Lee, Alex and Sam in a Hearth session
(the server in its own namespace), and beside them a direct pair standing in for Alex and Sam. Each
condition sets the same links for a member and its stand-in, so a window measures both systems under
the same impairments and the same machine load (these machines are shared). The pair uses the Hearth
client's own capture and connection code (tests/net/p2p.js): the only difference is the server.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Playwright

from tests.net.conditions import (
    CLEAN_NETWORK,
    FACILITATOR,
    FLOOR_HOLDER,
    HEARTH_ROLES,
    NAMES,
    P2P_ROLES,
    SERVER,
    WEAK_MEMBER,
    Condition,
)
from tests.net.figures import Cell, Recovery, burst, received, recovery, sent
from tests.net.lab import ROOT, Lab
from tests.net.load import LoadMeter
from tests.net.pages import Peer, frames, launch_in, snapshot
from tests.net.room import join_room, start_hearth
from tests.web.hearth_process import HearthServer, free_port
from tests.web.people import Person

GRANT_FLOOR_JS = """async (name) => {
  const client = window.hearth.client;
  const person = client.session.participants.find((p) => p.name === name);
  await client.send('floor.grant', {id: person.id});
}"""


@dataclass
class SideBySide:
    """The lab, the Hearth server and the pair's relay in its server namespace, a browser per member.

    ``hearth_args`` are more settings for the server (say ``--python-forwarding``)."""

    playwright: Playwright
    log_dir: Path
    seed: int | None = None
    hearth_args: tuple[str, ...] = ()
    lab: Lab = field(init=False)
    hearth: HearthServer = field(init=False)
    relay: str = field(init=False)
    browsers: dict[str, Browser] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)  # by Hearth role
    peers: dict[str, Peer] = field(default_factory=dict)  # by the Hearth role they stand for

    # -- setting up --------------------------------------------------------------------------------

    def start(self) -> SideBySide:
        self.lab = Lab([SERVER, *HEARTH_ROLES, *P2P_ROLES.values()], seed=self.seed)
        self.lab.start()
        try:
            self._start_servers()
            self._open_room()
            self._open_pair()
        except BaseException:
            self.close()
            raise
        return self

    def _browser(self, role: str) -> Browser:
        if role not in self.browsers:
            self.browsers[role] = launch_in(self.playwright, self.lab, role, [self.hearth.base, self.relay])
        return self.browsers[role]

    def _start_servers(self) -> None:
        self.hearth = start_hearth(self.lab, SERVER, self.log_dir, *self.hearth_args)
        address, port = self.lab.address(SERVER), free_port()
        relay = self.lab.popen(
            SERVER,
            [sys.executable, "-m", "tests.net.relay", "--host", address, "--port", str(port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert relay.stdout is not None and relay.stdout.readline().strip() == "ready", "the p2p relay did not start"
        self.relay = f"http://{address}:{port}"

    def _open_room(self) -> None:
        """Lee, Alex and Sam in a session, Alex given the floor by Lee."""
        browsers = {NAMES[role]: self._browser(role) for role in HEARTH_ROLES}  # the facilitator first
        people = join_room(self.hearth, browsers, NAMES[FACILITATOR])
        self.people = {role: people[NAMES[role]] for role in HEARTH_ROLES}
        self.people[FACILITATOR].page.evaluate(GRANT_FLOOR_JS, NAMES[FLOOR_HOLDER])

    def _open_pair(self) -> None:
        a, b = FLOOR_HOLDER, WEAK_MEMBER
        self.peers[a] = Peer.open(self._browser(P2P_ROLES[a]), self.relay, NAMES[a], NAMES[b])
        self.peers[b] = Peer.open(self._browser(P2P_ROLES[b]), self.relay, NAMES[b], NAMES[a])
        for peer in self.peers.values():
            peer.wait_connected()

    def close(self) -> None:
        for browser in self.browsers.values():
            try:
                browser.close()
            except Exception as exc:  # a browser that died already; the lab removes what is left
                print(f"closing a lab browser: {exc}")
        if hasattr(self, "hearth"):
            self.hearth.stop()
        if hasattr(self, "lab"):
            self.lab.close()

    # -- measuring ---------------------------------------------------------------------------------

    def apply(self, condition: Condition) -> None:
        for role in (*HEARTH_ROLES, *P2P_ROLES.values()):
            self.lab.set_both(role, condition.links(role))

    def snapshots(self) -> dict[str, dict[str, Any]]:
        """Every page now: Hearth pages by role, the pair's by "p2p-" and the role they stand for; and
        the RTP packets the server has sent so far ("server")."""
        shots = {role: snapshot(p.page) for role, p in self.people.items()}
        shots.update({P2P_ROLES[role]: snapshot(peer.page) for role, peer in self.peers.items()})
        shots[SERVER] = self.lab.counts(SERVER)["rtp"]
        return shots

    def cells(self, condition: str, start: dict[str, Any], end: dict[str, Any]) -> tuple[Cell, Cell]:
        """The room's and the pair's figures between two ``snapshots``."""
        rtp = {k: end[SERVER][k] - start[SERVER][k] for k in ("packets", "repeats")}
        hearth = Cell(
            "hearth",
            condition,
            [s for role in self.people for s in received(NAMES[role], start[role], end[role])],
            [s for role in self.people for s in sent(NAMES[role], start[role], end[role])],
            rtp["repeats"] / rtp["packets"] if rtp["packets"] else None,
        )
        pairs = [(NAMES[role], P2P_ROLES[role]) for role in self.peers]
        p2p = Cell(
            "p2p",
            condition,
            [s for name, role in pairs for s in received(name, start[role], end[role])],
            [s for name, role in pairs for s in sent(name, start[role], end[role])],
        )
        return hearth, p2p

    def measure(self, condition: Condition, seconds: float, settle: float) -> tuple[Cell, Cell]:
        """A clean network for ``settle`` seconds (both systems recover from what came before), then
        ``condition`` for ``settle`` more (they adapt to it), then the window of ``seconds``."""
        self.apply(CLEAN_NETWORK)
        time.sleep(settle)
        self.apply(condition)
        time.sleep(settle)
        start, meter = self.snapshots(), LoadMeter(self.lab)
        time.sleep(seconds)
        hearth, p2p = self.cells(condition.name, start, self.snapshots())
        load = str(meter.read())
        return replace(hearth, load=load), replace(p2p, load=load)

    def outage(self, seconds: float, settle: float, after: float = 10.0) -> Outage:
        """Cut Sam's links (the room's Sam and the pair's, at one instant) for ``seconds`` on a clean
        network; how every video to and from Sam came back within ``after`` seconds of the end, and
        the peak packet rate on each receiver's downlink after it (``burst``)."""
        self.apply(CLEAN_NETWORK)
        time.sleep(settle)
        start, meter = self.snapshots(), LoadMeter(self.lab)
        cut_start, cut_end = self.lab.cut([WEAK_MEMBER, P2P_ROLES[WEAK_MEMBER]], seconds)
        time.sleep(cut_end - time.time() + after)
        end = self.snapshots()
        result = Outage(seconds, load=str(meter.read()))
        for role, person in self.people.items():
            result.hearth += self._recoveries(person.page, NAMES[role], start[role], end[role], cut_end, after)
        for role, peer in self.peers.items():
            p2p = P2P_ROLES[role]
            result.p2p += self._recoveries(peer.page, NAMES[role], start[p2p], end[p2p], cut_end, after)
        for role in [*self.people, *(P2P_ROLES[r] for r in self.peers)]:
            bins = self.lab.timeline(role, "down", cut_start - 5, cut_end + after)
            result.bursts[role] = burst(bins, cut_start, cut_end)
        return result

    def _recoveries(
        self, page: Any, receiver: str, start: dict[str, Any], end: dict[str, Any], cut_end: float, after: float
    ) -> list[Recovery]:
        """Every received video whose sender or receiver is Sam (any connection it came on)."""
        by_sender: dict[str, list[str]] = {}
        for row in end["streams"]:
            if row["type"] == "inbound-rtp" and row["kind"] == "video" and row.get("name") and row.get("track"):
                by_sender.setdefault(row["name"], []).append(row["track"])
        requests = {s.sender: s.keyframe_requests for s in received(receiver, start, end) if s.kind == "video"}
        out = []
        for sender, tracks in sorted(by_sender.items()):
            if NAMES[WEAK_MEMBER] in (sender, receiver):
                shown = [t for track in tracks for t, _, _ in frames(page, track, cut_end - 10)]
                out.append(recovery(receiver, sender, shown, cut_end, after, requests.get(sender, 0.0)))
        return out


@dataclass
class Outage:
    """How both systems came back from one outage of Sam's links."""

    seconds: float
    load: str = ""
    hearth: list[Recovery] = field(default_factory=list)
    p2p: list[Recovery] = field(default_factory=list)
    bursts: dict[str, float] = field(default_factory=dict)  # by role: the downlink's peak rate after, over before
