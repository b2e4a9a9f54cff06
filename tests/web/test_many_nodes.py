"""Several nodes on one Redis: a member reaches the group wherever the session lives, and stays in it
when the node serving them stops or loses the session to another node."""

from __future__ import annotations

import re
import secrets
import shutil
import signal
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.web.balancer import Balancer
from tests.web.conftest import PersonFactory
from tests.web.hearth_process import HearthServer, free_port, start_redis, start_server
from tests.web.people import ARTIFACTS, Person

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow]

LEASE_TTL = 3.0  # seconds: short, so that a stalled node loses its sessions within the test
RECORD_STATUSES = """() => {
  window.statuses = [];
  hearth.client.addEventListener('connection', (e) => window.statuses.push(e.detail.status));
}"""


@contextmanager
def nodes_on_redis(ports: list[int], *args: str) -> Iterator[list[HearthServer]]:
    """Nodes sharing a throwaway Redis, a secret and an operator key."""
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is missing: apt-get install -y redis-server")
    redis, url = start_redis(ARTIFACTS / "logs")
    secret, key = secrets.token_urlsafe(32), secrets.token_urlsafe(16)
    nodes: list[HearthServer] = []
    try:
        for port in ports:
            extra = ("--redis-url", url, *args)
            nodes.append(start_server(ARTIFACTS / "logs", extra, secret=secret, operator_key=key, port=port))
        yield nodes
    finally:
        for node in nodes:
            node.stop()
        redis.terminate()
        redis.wait(timeout=10)


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[tuple[HearthServer, HearthServer]]:
    with nodes_on_redis([free_port(), free_port()]) as (a, b):
        yield a, b


@dataclass
class Clinic:
    """Nodes A and B behind a failover balancer that sends each connection to A while A listens."""

    balancer: Balancer
    a: HearthServer
    b: HearthServer

    def link(self, node_link: str) -> str:
        """A join link through the balancer rather than the node that made it."""
        parts = urlsplit(node_link)
        return f"{self.balancer.base}{parts.path}#{parts.fragment}"


@pytest.fixture
def clinic() -> Iterator[Clinic]:
    balancer = Balancer()
    ports = [free_port(), free_port()]
    # Pages load from the balancer, or from a node when a move reopens the page there.
    origins = [balancer.base, *(f"http://127.0.0.1:{port}" for port in ports)]
    try:
        with nodes_on_redis(ports, f"--lease-ttl={LEASE_TTL}", *(f"--allowed-origin={o}" for o in origins)) as nodes:
            balancer.backends = [("127.0.0.1", port) for port in ports]
            yield Clinic(balancer, nodes[0], nodes[1])
    finally:
        balancer.close()


def sessions_held(node: HearthServer) -> float:
    request = urllib.request.Request(f"{node.base}/metrics", headers={"Authorization": f"Bearer {node.operator_key}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        found = re.search(r"^hearth_sessions_live (\S+)$", response.read().decode(), re.MULTILINE)
    assert found, "no hearth_sessions_live in /metrics"
    return float(found.group(1))


def group_on_node_a(clinic: Clinic, new_person: PersonFactory) -> tuple[str, Person, Person]:
    """A facilitator and Robin in the room through the balancer (so on node A), seeing each other."""
    created = clinic.a.create_session("Friday group", requires_agreement=False, admission="open")
    lead = new_person("Lead", clinic.link(created["facilitator_url"]))
    lead.open()
    lead.join()
    expect(lead.page.get_by_test_id("console")).to_be_visible()
    robin = new_person("Robin", clinic.link(clinic.a.invite(created["id"], "Robin")["url"]))
    robin.open()
    robin.join()
    expect(robin.page.get_by_test_id("room")).to_be_visible()
    lead.wait_video_live("Robin")
    assert sessions_held(clinic.a) == 1
    return created["id"], lead, robin


def test_a_member_sent_to_the_wrong_node_follows_the_session(
    two_nodes: tuple[HearthServer, HearthServer], new_person: PersonFactory
) -> None:
    a, b = two_nodes
    created = a.create_session("Thursday group", requires_agreement=True, admission="lobby")
    facilitator = new_person("Lead", created["facilitator_url"])
    facilitator.open()
    facilitator.join()
    expect(facilitator.page.get_by_test_id("console")).to_be_visible()  # node A now holds the session

    token = a.invite(created["id"], "Robin")["token"]
    robin = new_person("Robin", f"{b.base}/s/{created['id']}#token={token}")
    robin.page.goto(robin.url)
    expect(robin.page.get_by_test_id("join-screen")).to_be_visible()
    expect(robin.page.get_by_test_id("session-title")).to_have_text("Thursday group")
    robin.join()
    expect(robin.page.get_by_test_id("lobby-waiting")).to_be_visible()
    expect(facilitator.page.get_by_test_id("lobby-entry").filter(has_text="Robin")).to_be_visible()
    # Connected to the node that holds the session: directly, or by reopening the page from it when
    # this page's Content-Security-Policy does not list the other node.
    assert robin.page.evaluate("() => hearth.client.socket.io.uri").startswith(a.base)
    robin.screenshot("moved")


def test_a_member_whose_node_stops_stays_in_the_group_on_the_other_node(
    clinic: Clinic, new_person: PersonFactory
) -> None:
    _, lead, robin = group_on_node_a(clinic, new_person)
    robin.page.evaluate(RECORD_STATUSES)
    clinic.a.process.send_signal(signal.SIGTERM)  # as an operator's restart stops a node: gracefully
    assert clinic.a.process.wait(timeout=15) == 0, clinic.a.logs()

    robin.page.wait_for_function("() => hearth.client.status === 'connected'")
    expect(robin.page.get_by_test_id("connection-status")).to_have_text("Connected")
    expect(robin.page.get_by_test_id("room")).to_be_visible()
    statuses = robin.page.evaluate("() => statuses")
    assert "reconnecting" in statuses and "closed" not in statuses, statuses
    assert sessions_held(clinic.b) == 1
    lead.wait_video_live("Robin")
    robin.screenshot("node-stopped")


def test_a_member_whose_node_lost_the_session_follows_it_to_the_new_node(
    clinic: Clinic, new_person: PersonFactory
) -> None:
    session_id, lead, robin = group_on_node_a(clinic, new_person)
    clinic.a.process.send_signal(signal.SIGSTOP)  # node A stalls (a partition, a long pause) ...
    try:
        time.sleep(LEASE_TTL + 1)  # ... until its lease runs out, and node B takes the session
        assert clinic.b.request("GET", f"/api/sessions/{session_id}/where")["url"] == clinic.b.base
    finally:
        clinic.a.process.send_signal(signal.SIGCONT)  # back, A finds B holding the lease: hand-over

    # The page may connect to B (the nodes were started with each other's origins allowed): it
    # follows the session there without reloading, so nobody has to join again.
    on_b = f"() => hearth.client.status === 'connected' && hearth.client.socket.io.uri.startsWith('{clinic.b.base}')"
    for person in (robin, lead):
        person.page.wait_for_function(on_b, timeout=20_000)
        expect(person.page.get_by_test_id("connection-status")).to_have_text("Connected")
        assert person.page.url.startswith(clinic.balancer.base), person.page.url  # never reloaded
    expect(robin.page.get_by_test_id("room")).to_be_visible()
    expect(robin.page.get_by_test_id("connection-status")).to_have_text("Connected")
    assert (sessions_held(clinic.a), sessions_held(clinic.b)) == (0, 1)
    lead.wait_video_live("Robin")
    robin.screenshot("handed-over")


def test_a_member_whose_new_node_dies_goes_back_home_and_stays_in_the_group(
    clinic: Clinic, new_person: PersonFactory
) -> None:
    session_id, lead, robin = group_on_node_a(clinic, new_person)
    clinic.a.process.send_signal(signal.SIGSTOP)  # A stalls until B takes the session ...
    try:
        time.sleep(LEASE_TTL + 1)
        assert clinic.b.request("GET", f"/api/sessions/{session_id}/where")["url"] == clinic.b.base
    finally:
        clinic.a.process.send_signal(signal.SIGCONT)
    on_b = f"() => hearth.client.status === 'connected' && hearth.client.socket.io.uri.startsWith('{clinic.b.base}')"
    for person in (robin, lead):
        person.page.wait_for_function(on_b, timeout=20_000)

    clinic.b.process.kill()  # ... then B, where the pages were sent, dies without a word (kill -9)
    clinic.b.process.wait(timeout=10)
    # The pages stop knocking at B's dead address and go back to where they came from: the balancer,
    # which reaches A, and A takes the session once B's lease has run out.
    home = (
        "() => hearth.client.status === 'connected'"
        f" && hearth.client.socket.io.uri.startsWith('{clinic.balancer.base}')"
    )
    for person in (robin, lead):
        person.page.wait_for_function(home, timeout=30_000)
        expect(person.page.get_by_test_id("connection-status")).to_have_text("Connected")
    expect(robin.page.get_by_test_id("room")).to_be_visible()
    assert sessions_held(clinic.a) == 1
    try:
        lead.wait_video_live("Robin")
    except AssertionError as err:  # what Robin's own page was doing, and what A said
        raise AssertionError(f"{err}; Robin's page: {robin.media_state('Lead')}; A: {clinic.a.logs()}") from None
    robin.screenshot("back-home")
