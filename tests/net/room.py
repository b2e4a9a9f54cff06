"""A Hearth server in a lab namespace, and a room of Chromium members in theirs.

The server listens on its namespace's address only, without loopback candidates: what it offers is
what a server with one network interface offers. The test process reaches its HTTP API through a
thread inside that namespace; the members' pages load it across their own links.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.net.lab import Lab
from tests.net.pages import hearth_person
from tests.web.hearth_process import HearthServer, free_port, start_server
from tests.web.people import Person

# The server stands for a machine of its own in a data centre; in the lab it shares two cores with five
# browsers, whose load is not its. Like the emulator (the network), it runs ahead of them on the CPU.
SERVER_PRIORITY = -10  # nice value (root only)


def start_hearth(lab: Lab, role: str, log_dir: Path, *args: str) -> HearthServer:
    """``python -m server serve`` in ``role``'s namespace, on its address, at ``SERVER_PRIORITY``;
    ``args`` are more settings."""
    address, port = lab.address(role), free_port()  # free here, so surely free in a fresh namespace
    return start_server(
        log_dir,
        ("--public-url", f"http://{address}:{port}", *args),
        port=port,
        host=address,
        prefix=lab.command(role, "nice", "-n", str(SERVER_PRIORITY)),
        loopback=False,
        reach=lab.inside(role).run,
        adapt_bandwidth=True,  # the lab's links are what the allocator is for
    )


def join_room(hearth: HearthServer, browsers: Mapping[str, Browser], facilitator: str) -> dict[str, Person]:
    """An open session: ``facilitator`` leads it and everyone else in ``browsers`` (by name) joins it.

    Returns each person's page once everyone sees everyone else's video with frames advancing.
    """
    body = {"title": "Network lab", "admission": "open", "requires_agreement": False, "facilitator_name": facilitator}
    created = hearth.request("POST", "/api/sessions", body)
    urls = {name: created["facilitator_url"] if name == facilitator else "" for name in browsers}
    for name in browsers:
        urls[name] = urls[name] or hearth.invite(created["id"], name)["url"]
    people = {}
    for name, browser in browsers.items():  # the facilitator first: members wait for one
        person = people[name] = hearth_person(browser, name, urls[name])
        person.open()
        person.join()
        expect(person.page.get_by_test_id("room").or_(person.page.get_by_test_id("console"))).to_be_visible()
    for name, person in people.items():
        for other in people:
            if other != name:
                person.wait_video_live(other)
    return people
