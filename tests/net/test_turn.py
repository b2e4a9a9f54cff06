"""A member whose network lets UDP reach only a TURN server (or no UDP at all) still publishes and
receives video in a Hearth room, through coturn: over UDP, over TCP, and over TLS.

Lab: the Hearth server, coturn (a namespace of its own, as on its own host), Lee (facilitating, on an
ordinary network) and Robin, whose links drop every UDP packet but those to and from the TURN
server's port (or every UDP packet, for TURN over TCP and TLS). Hearth hands its clients the TURN
server through ``--ice-servers`` and uses it itself. The test reads from Robin's page which route
each connection took, and the emulator's counts show Robin's direct UDP was tried and dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Playwright

from tests.net.lab import Lab
from tests.net.links import Conditions
from tests.net.pages import launch_in, snapshot
from tests.net.room import join_room, start_hearth
from tests.net.turn import Turn, start_turn
from tests.web.people import ARTIFACTS

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SERVER, TURN, LEE, ROBIN = "server", "turn", "lee", "robin"


@dataclass
class Relayed:
    """What one TURN test saw: the routes of Robin's connections and what Robin's firewall dropped."""

    routes: list[dict[str, object]]
    filtered: int


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab([SERVER, TURN, LEE, ROBIN]) as made:
        yield made


def relayed_room(playwright: Playwright, lab: Lab, transport: str) -> Relayed:
    """Lee and Robin in a room while Robin's UDP reaches only the TURN server (none at all but UDP TURN)."""
    turn: Turn = start_turn(lab, TURN, relays_to=lab.address(SERVER))
    # Chromium checks a TURN server's certificate; this trusts exactly the run's own, by its public key.
    trust = (f"--ignore-certificate-errors-spki-list={turn.spki()}",) if transport == "tls" else ()
    hearth = start_hearth(lab, SERVER, ARTIFACTS / "logs", "--ice-servers", json.dumps([turn.ice_server(transport)]))
    try:
        allowed = (turn.endpoint(transport),) if transport == "udp" else ()
        lab.set_both(ROBIN, Conditions(udp_only=allowed))
        origins = [hearth.base]
        browsers = {
            "Lee": launch_in(playwright, lab, LEE, origins),
            "Robin": launch_in(playwright, lab, ROBIN, origins, *trust),
        }
        try:
            people = join_room(hearth, browsers, "Lee")  # both see the other's video, frames advancing
            routes = snapshot(people["Robin"].page)["routes"]
            people["Robin"].screenshot(f"turn-{transport}")
        finally:
            for browser in browsers.values():
                browser.close()
        counts = lab.counts(ROBIN)
        return Relayed(routes, counts["up"]["filtered"] + counts["down"]["filtered"])
    finally:
        hearth.stop()


def assert_relayed(seen: Relayed, protocol: str, turn_address: str, server_address: str) -> None:
    """Both of Robin's connections run through a relay on the TURN server, reached over ``protocol``."""
    print(json.dumps(seen.routes, indent=1))
    assert {r["direction"] for r in seen.routes} == {"sending", "receiving"}, seen.routes
    for route in seen.routes:
        local, remote = route["local"], route["remote"]
        assert isinstance(local, dict) and isinstance(remote, dict)
        assert local["type"] == "relay", route
        assert local["address"] == turn_address, route
        assert local["relayProtocol"] == protocol, route
        # The server's end: its own address (host) or its own allocation on the same TURN server.
        assert remote["address"] in (server_address, turn_address), route
    assert seen.filtered > 0, "Robin never tried UDP past the firewall: the test proves nothing"


def test_member_whose_udp_reaches_only_turn_publishes_and_receives_video(playwright: Playwright, lab: Lab) -> None:
    seen = relayed_room(playwright, lab, "udp")
    assert_relayed(seen, "udp", lab.address(TURN), lab.address(SERVER))


def test_member_without_udp_publishes_and_receives_video_over_turn_tcp(playwright: Playwright, lab: Lab) -> None:
    seen = relayed_room(playwright, lab, "tcp")
    assert_relayed(seen, "tcp", lab.address(TURN), lab.address(SERVER))


def test_member_without_udp_publishes_and_receives_video_over_turn_tls(playwright: Playwright, lab: Lab) -> None:
    """``turns:`` with the run's self-signed certificate, which Robin's browser is told to trust by its key
    (Chromium refuses it otherwise: the page never connects)."""
    seen = relayed_room(playwright, lab, "tls")
    assert_relayed(seen, "tls", lab.address(TURN), lab.address(SERVER))
