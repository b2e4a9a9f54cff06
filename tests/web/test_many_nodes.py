"""Two nodes on one Redis: a member whose link points at the wrong node still reaches the group."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.web.conftest import PersonFactory
from tests.web.hearth_process import HearthServer, start_redis, start_server
from tests.web.people import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.redis]


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[tuple[HearthServer, HearthServer]]:
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is missing: apt-get install -y redis-server")
    redis, url = start_redis(ARTIFACTS / "logs")
    secret, key = secrets.token_urlsafe(32), secrets.token_urlsafe(16)
    nodes: list[HearthServer] = []
    try:
        for _ in range(2):
            nodes.append(start_server(ARTIFACTS / "logs", ("--redis-url", url), secret=secret, operator_key=key))
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.stop()
        redis.terminate()
        redis.wait(timeout=10)


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
