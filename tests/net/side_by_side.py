"""A Hearth room and a direct peer-to-peer pair in one lab, measured in turn under the same links.

Both stay connected throughout, each member in a namespace of their own: Lee, Alex and Sam in a Hearth
session (the server in its own namespace), and beside them a direct pair standing in for Alex and Sam.
Each condition sets the same links for a member and its stand-in. The pair uses the Hearth client's own
capture and connection code (tests/net/p2p.js), sending one stream as a direct call does: the only
difference is the server.

The systems are measured in turn, the other's cameras off meanwhile (``turn_to``): five browsers
encoding and decoding at once on these two shared cores starved every one of them (load 14-22; the
pair alone froze 4-10 times a minute on a clean network), and a starved browser's freezes say nothing
about a network. In turn, each system has the machine as its own members would have theirs.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, Playwright

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

HEARTH, P2P = "hearth", "p2p"
SYSTEMS = (HEARTH, P2P)
# A page's camera on or off its sending connection (both kinds of page say which through netlab.js's
# ``netlabPeers().publisher``), without renegotiating: replaceTrack, as the client's device changes do.
SEND_VIDEO_JS = """async (on) => {
  const publisher = window.netlabPeers().publisher;
  await publisher.video.sender.replaceTrack(on ? publisher.local.videoTrack : null);
}"""
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
    turn: str | None = None  # the system whose pages send video now (``turn_to``); None: both

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

    def pages(self, system: str) -> dict[str, Page]:
        """A system's pages by the role they have in it ("p2p-" roles for the pair)."""
        if system == HEARTH:
            return {role: person.page for role, person in self.people.items()}
        return {P2P_ROLES[role]: peer.page for role, peer in self.peers.items()}

    def turn_to(self, system: str) -> None:
        """Only ``system`` sends video from now on: the other's pages stop their cameras (nothing to
        encode, nothing to decode; their audio goes on), and ours start theirs again, each frame
        encoded afresh from a keyframe. Waits until every page of ``system`` shows video again."""
        if self.turn == system:
            return
        for name in SYSTEMS:
            for page in self.pages(name).values():
                page.evaluate(SEND_VIDEO_JS, name == system)
        self.turn = system
        if system == HEARTH:
            for person in self.people.values():
                for other in self.people.values():
                    if other is not person:
                        person.wait_video_live(other.name)
        else:
            for peer in self.peers.values():
                peer.wait_connected()

    def snapshots(self, system: str) -> dict[str, dict[str, Any]]:
        """Every page of ``system`` now by role; for Hearth also the RTP packets the server has sent ("server")."""
        shots = {role: snapshot(page) for role, page in self.pages(system).items()}
        if system == HEARTH:
            shots[SERVER] = self.lab.counts(SERVER)["rtp"]
        return shots

    def cell(self, system: str, condition: str, start: dict[str, Any], end: dict[str, Any]) -> Cell:
        """A system's figures between two ``snapshots``."""
        names = {role: NAMES[role] for role in self.people} if system == HEARTH else {}
        names.update({P2P_ROLES[role]: NAMES[role] for role in self.peers} if system == P2P else {})
        repeats = None
        if system == HEARTH:
            rtp = {k: end[SERVER][k] - start[SERVER][k] for k in ("packets", "repeats")}
            repeats = rtp["repeats"] / rtp["packets"] if rtp["packets"] else None
        return Cell(
            system,
            condition,
            [s for role, name in names.items() for s in received(name, start[role], end[role])],
            [s for role, name in names.items() for s in sent(name, start[role], end[role])],
            repeats,
        )

    def measure(self, condition: Condition, seconds: float, settle: float) -> tuple[Cell, Cell]:
        """Each system in turn (the one whose turn it is first, so a condition costs one switch): a
        clean network for ``settle`` seconds (it recovers from what came before), then ``condition``
        for ``settle`` more (it adapts to it), then the window of ``seconds``. Returns (Hearth, pair)."""
        cells = {}
        for system in sorted(SYSTEMS, key=lambda name: name != self.turn):
            self.turn_to(system)
            self.apply(CLEAN_NETWORK)
            time.sleep(settle)
            self.apply(condition)
            time.sleep(settle)
            start, meter = self.snapshots(system), LoadMeter(self.lab)
            time.sleep(seconds)
            cells[system] = replace(
                self.cell(system, condition.name, start, self.snapshots(system)), load=str(meter.read())
            )
        return cells[HEARTH], cells[P2P]

    def outage(self, seconds: float, settle: float, after: float = 10.0) -> Outage:
        """Cut Sam's links (the room's Sam, then the pair's, each in its system's turn) for ``seconds``
        on a clean network; how every video to and from Sam came back within ``after`` seconds of the
        end, and the peak packet rate on each receiver's downlink after it (``burst``)."""
        result = Outage(seconds)
        loads = []
        for system in sorted(SYSTEMS, key=lambda name: name != self.turn):
            self.turn_to(system)
            self.apply(CLEAN_NETWORK)
            time.sleep(settle)
            cut = WEAK_MEMBER if system == HEARTH else P2P_ROLES[WEAK_MEMBER]
            start, meter = self.snapshots(system), LoadMeter(self.lab)
            cut_start, cut_end = self.lab.cut([cut], seconds)
            time.sleep(cut_end - time.time() + after)
            end = self.snapshots(system)
            loads.append(f"{system}: {meter.read()}")
            recoveries = []
            for role, page in self.pages(system).items():
                name = NAMES[role] if system == HEARTH else NAMES[next(r for r, p in P2P_ROLES.items() if p == role)]
                recoveries += self._recoveries(page, name, start[role], end[role], cut_end, after)
                bins = self.lab.timeline(role, "down", cut_start - 5, cut_end + after)
                result.bursts[role] = burst(bins, cut_start, cut_end)
            if system == HEARTH:
                result.hearth = recoveries
            else:
                result.p2p = recoveries
        result.load = "; ".join(loads)
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
