"""What a person sees when their link is broken or revoked, and what the page may load."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.web.conftest import PersonFactory
from tests.web.hearth_process import HearthServer
from tests.web.people import accessibility_problems

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_bad_token_says_the_link_no_longer_works(hearth: HearthServer, new_person: PersonFactory) -> None:
    person = new_person("Stranger", f"{hearth.base}/s/nope#token=not-a-real-token")
    person.page.goto(person.url)
    expect(person.page.get_by_test_id("end-invalid")).to_contain_text("This link no longer works")
    person.at_sizes("invalid-link")


def test_a_link_without_token_says_it_is_incomplete(hearth: HearthServer, new_person: PersonFactory) -> None:
    person = new_person("Nobody", f"{hearth.base}/s/nope")
    person.page.goto(person.url)
    expect(person.page.get_by_test_id("end-nolink")).to_be_visible()
    person.at_sizes("no-token")


def test_the_page_is_accessible_makes_no_third_party_request_and_hides_the_token(
    hearth: HearthServer, new_person: PersonFactory
) -> None:
    created = hearth.create_session("Privacy check", requires_agreement=False, admission="open")
    person = new_person("Pat", hearth.invite(created["id"], "Pat")["url"])
    origins: set[str] = set()
    person.page.on("request", lambda r: origins.add("/".join(r.url.split("/")[:3])))
    person.open()
    expect(person.page.get_by_test_id("join-button")).to_be_enabled()
    # The microphone preview moves with the fake microphone's beeps.
    person.page.wait_for_function("() => document.querySelector('[data-testid=mic-level]').value > 0.02")
    person.screenshot("join")
    assert accessibility_problems(person.page) == []
    person.join()
    expect(person.page.get_by_test_id("lobby-waiting")).to_be_visible()  # no facilitator yet
    assert accessibility_problems(person.page) == []
    assert origins == {hearth.base}, origins
    assert "token" not in person.page.url
    response = person.page.request.get(f"{hearth.base}/s/{created['id']}")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "no-referrer"
