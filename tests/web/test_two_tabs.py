"""The same join link open in two tabs: the newer tab has the seat, the older one says why and can
take it back, and neither page reconnects on its own (two tabs taking the seat from each other in a
loop would leave the person in neither).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import make_person
from tests.web.hearth_process import HearthServer
from tests.web.people import Person

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Socket.IO's reconnection delay is 0.5-2 s: a looping page would have connected again within this.
QUIET_MS = 3000


def count_connections(page: Page) -> list[str]:
    """Every Socket.IO WebSocket this page opens, from now on."""
    opened: list[str] = []
    page.on("websocket", lambda ws: opened.append(ws.url) if "/socket.io/" in ws.url else None)
    return opened


@pytest.fixture
def two_tabs(hearth: HearthServer, browser: Browser) -> Iterator[tuple[Person, Person, Person]]:
    created = hearth.create_session("Two tabs", requires_agreement=False, admission="open")
    facilitator = make_person(browser, "Facilitator", created["facilitator_url"])
    first = make_person(browser, "Lee", hearth.invite(created["id"], "Lee")["url"])
    # The same person's second tab: the same browser context, so the same device.
    second = Person("Lee-second", first.url, first.context, first.context.new_page())
    yield facilitator, first, second
    first.close()
    facilitator.close()


def test_second_tab_takes_the_seat_and_the_first_can_take_it_back(two_tabs: tuple[Person, Person, Person]) -> None:
    facilitator, first, second = two_tabs
    facilitator.open()
    facilitator.join()
    first_connections = count_connections(first.page)
    second_connections = count_connections(second.page)
    first.open()
    first.join()
    expect(first.page.get_by_test_id("room")).to_be_visible()

    second.open()  # connecting is enough: the seat moves to the newest connection
    expect(first.page.get_by_test_id("end-replaced")).to_contain_text("You joined from another tab or device")
    take_back = first.page.get_by_test_id("take-back-button")
    expect(take_back).to_have_text("Use this tab instead")
    expect(first.page.get_by_test_id("connection-status")).to_have_text("Open in another tab")
    first.at_sizes("replaced", lambda: expect(take_back).to_be_in_viewport())
    second.join()
    expect(second.page.get_by_test_id("room")).to_be_visible()

    take_back.click()
    expect(first.page.get_by_test_id("room")).to_be_visible()
    expect(second.page.get_by_test_id("end-replaced")).to_be_visible()
    expect(second.page.get_by_test_id("take-back-button")).to_be_visible()
    expect(first.page.get_by_test_id("connection-status")).to_have_text("Connected")
    facilitator.wait_video_live("Lee")  # the tab that took the seat back sends again

    first.page.wait_for_timeout(QUIET_MS)  # absence of a loop can only be seen over time
    assert len(first_connections) == 2, first_connections
    assert len(second_connections) == 1, second_connections
    expect(second.page.get_by_test_id("end-replaced")).to_be_visible()
    expect(first.page.get_by_test_id("room")).to_be_visible()
