"""A facilitator and two members in one session, driven through the real page in Chromium.

The tests share one group (joining costs seconds); each brings the group to the state it needs,
so any one of them also runs alone. Removal comes last because it is final.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.web.conftest import Group, PersonFactory, member_action, set_floor_mode
from tests.web.hearth_process import HearthServer
from tests.web.people import accessibility_problems

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_members_accept_agreement_wait_in_lobby_and_are_admitted(group: Group) -> None:
    group.open_console()
    for member in group.members:
        group.enter_lobby(member)
        expect(member.page.get_by_test_id("lobby-waiting")).to_contain_text("Waiting to be admitted")
    console = group.facilitator.page
    expect(console.get_by_test_id("lobby-entry")).to_have_count(2)
    expect(console.get_by_test_id("lobby-list")).to_contain_text("Agreed to the guidelines")
    # A facilitator can talk privately with someone waiting before letting them in.
    console.get_by_test_id("lobby-entry").filter(has_text="Alex").get_by_role("button", name="Message").click()
    console.get_by_test_id("note-text").fill("Welcome, Alex. We start in a minute.")
    console.get_by_test_id("note-send").click()
    expect(group.alex.page.get_by_test_id("notes-list")).to_contain_text("We start in a minute")
    group.alex.screenshot("lobby")
    group.facilitator.screenshot("lobby")
    for member in group.members:
        group.admit(member)
    group.admitted = True
    expect(console.get_by_test_id("lobby-entry")).to_have_count(0)
    expect(console.get_by_test_id("member-row")).to_have_count(2)


def test_denied_newcomer_is_told_kindly(group: Group, hearth: HearthServer, new_person: PersonFactory) -> None:
    if not group.facilitator_name:
        group.open_console()
    jo = new_person("Jo", hearth.invite(group.session_id, "Jo")["url"])
    group.enter_lobby(jo)
    entry = group.facilitator.page.get_by_test_id("lobby-entry").filter(has_text="Jo")
    entry.get_by_test_id("deny-button").click()
    expect(jo.page.get_by_test_id("end-removed")).to_contain_text("You were not admitted this time")
    jo.at_sizes("denied")


def test_each_member_sees_the_others_video_with_frames_advancing(group: Group) -> None:
    group.ensure_admitted()
    for member in group.members:
        others = [p.name for p in group.members if p is not member] + [group.facilitator_name]
        for name in others:
            member.wait_video_live(name)
    group.facilitator.wait_video_live("Alex")
    group.facilitator.wait_video_live("Sam")
    for person in group.everyone:
        person.screenshot("grid")


def test_room_and_console_have_no_serious_accessibility_problems(group: Group) -> None:
    group.ensure_admitted()
    for person in (group.alex, group.facilitator):
        assert accessibility_problems(person.page) == [], person.name


def test_floor_given_in_console_shows_on_every_page(group: Group) -> None:
    group.ensure_admitted()
    console = group.facilitator.page
    group.give_floor("Alex")
    expect(group.alex.page.get_by_test_id("floor-status")).to_contain_text("You have the floor")
    expect(group.sam.page.get_by_test_id("floor-status")).to_contain_text("Alex has the floor")
    expect(console.get_by_test_id("console-floor")).to_contain_text("Alex has the floor")
    expect(group.sam.tile("Alex")).to_contain_text("Has the floor")
    group.sam.screenshot("floor")


def test_strict_phase_console_shows_only_the_holder_as_audible(group: Group) -> None:
    group.ensure_admitted()
    console = group.facilitator.page
    group.give_floor("Alex")
    set_floor_mode(console, "strict")
    expect(console.get_by_test_id("console-phase")).to_contain_text("One voice at a time")
    alex = console.get_by_test_id("member-row").filter(has_text="Alex").get_by_test_id("audible")
    sam = console.get_by_test_id("member-row").filter(has_text="Sam").get_by_test_id("audible")
    expect(alex).to_have_attribute("data-audible", "true")
    expect(sam).to_have_attribute("data-audible", "false")
    expect(sam).to_have_text(re.compile("Not heard"))
    expect(group.sam.page.get_by_test_id("strict-notice")).to_be_visible()
    group.facilitator.screenshot("strict")
    set_floor_mode(console, "hands")
    expect(sam).to_have_attribute("data-audible", "true")


def test_help_nod_and_private_notes_reach_the_other_side(group: Group) -> None:
    group.ensure_admitted()
    console = group.facilitator.page
    group.give_floor("Alex")
    expect(group.sam.page.get_by_test_id("floor-status")).to_contain_text("Alex has the floor")
    group.sam.page.get_by_test_id("nod-button").click()
    expect(group.alex.page.get_by_test_id("nod-received")).to_contain_text("Sam relates")

    group.sam.page.get_by_test_id("help-button").click()
    expect(group.sam.page.get_by_test_id("help-sent")).to_contain_text("told")
    expect(console.get_by_test_id("help-alert")).to_contain_text("Sam is asking for help")
    group.facilitator.screenshot("help")

    console.get_by_test_id("help-alert").get_by_role("button", name="Write to Sam").click()
    console.get_by_test_id("note-text").fill("I am here. Would you like a moment?")
    console.get_by_test_id("note-send").click()
    expect(group.sam.page.get_by_test_id("note")).to_contain_text("I am here")
    group.sam.page.get_by_test_id("note-text").fill("Yes, thank you")
    group.sam.page.get_by_test_id("note-send").click()
    expect(console.get_by_test_id("notes-list")).to_contain_text("From Sam: Yes, thank you")
    expect(group.alex.page.get_by_test_id("notes-list")).not_to_contain_text("thank you")
    console.get_by_test_id("help-dismiss").click()
    expect(console.get_by_test_id("help-alert")).to_have_count(0)
    name = group.facilitator_name
    acknowledged = f"{name} has seen your request and will reach out to you privately."
    expect(group.sam.page.get_by_test_id("help-sent")).to_have_text(acknowledged)
    group.sam.screenshot("notes")


def test_mute_is_followed_on_the_member_page_and_only_allowed_back(group: Group) -> None:
    group.ensure_admitted()
    console, alex = group.facilitator.page, group.alex.page
    row = console.get_by_test_id("member-row").filter(has_text="Alex")
    mic = alex.get_by_test_id("mic-toggle")
    if mic.get_attribute("data-on") != "true":
        mic.click()
    expect(mic).to_have_attribute("data-on", "true")
    expect(mic).to_have_text("Mute")  # what pressing it does
    member_action(console, "Alex", "mute-button")
    expect(mic).to_have_text("Muted by facilitator")
    expect(mic).to_be_disabled()
    expect(alex.get_by_test_id("device-hint")).to_contain_text("They will let you know when you can unmute")
    expect(row.get_by_test_id("audible")).to_have_text("Muted by you")
    group.alex.screenshot("muted")
    member_action(console, "Alex", "mute-button")  # now "Allow unmute": the member decides
    expect(mic).to_be_enabled()
    expect(mic).to_have_text("Unmute")
    mic.click()
    expect(mic).to_have_text("Mute")
    expect(row.get_by_test_id("audible")).to_have_attribute("data-audible", "true")


def test_go_around_gives_the_turn_and_the_member_may_pass(group: Group) -> None:
    group.ensure_admitted()
    console = group.facilitator.page
    console.get_by_test_id("goaround-start").click()
    expect(console.get_by_test_id("console-goaround")).to_contain_text("turn, 1 of")
    first = console.evaluate("() => hearth.nameOf(hearth.session.go_around.order[0])")
    person = next(p for p in group.members if p.name == first)
    expect(person.page.get_by_test_id("goaround-status")).to_contain_text("your turn")
    expect(person.page.get_by_test_id("floor-status")).to_contain_text("You have the floor")
    person.screenshot("goaround")
    person.page.get_by_test_id("pass-button").click()
    expect(person.page.get_by_test_id("pass-button")).to_be_hidden()
    expect(console.get_by_test_id("console-goaround")).to_contain_text("turn, 2 of")
    console.get_by_test_id("goaround-stop").click()
    expect(console.get_by_test_id("goaround-start")).to_be_visible()


def test_member_sent_back_to_the_waiting_room_can_be_let_in_again(group: Group) -> None:
    group.ensure_admitted()
    console, sam = group.facilitator.page, group.sam.page
    member_action(console, "Sam", "lobby-send-button")
    expect(sam.get_by_test_id("lobby-waiting")).to_contain_text("moved you to the waiting room")
    expect(group.alex.tile("Sam")).to_have_count(0)
    group.sam.screenshot("sent-back")
    group.admit(group.sam)
    group.alex.wait_video_live("Sam")
    group.sam.wait_video_live("Alex")


def test_member_reconnects_after_a_drop_and_keeps_their_place(group: Group) -> None:
    group.ensure_admitted()
    sam = group.sam.page
    if sam.get_by_test_id("hand-button").get_attribute("aria-pressed") != "true":
        sam.get_by_test_id("hand-button").click()
    expect(sam.get_by_test_id("queue-position")).to_contain_text("in line")
    position = sam.get_by_test_id("queue-position").inner_text()
    group.sam.context.set_offline(True)  # the network drops: the socket closes, the page notices
    expect(sam.get_by_test_id("connection-status")).to_have_text("Reconnecting…")
    expect(sam.get_by_test_id("offline-notice")).to_contain_text("you keep your place")
    group.sam.screenshot("offline")
    sam.wait_for_timeout(1500)
    group.sam.context.set_offline(False)
    expect(sam.get_by_test_id("connection-status")).to_have_text("Connected")
    expect(sam.get_by_test_id("offline-notice")).to_be_hidden()
    expect(sam.get_by_test_id("room")).to_be_visible()
    expect(sam.get_by_test_id("queue-position")).to_have_text(position)
    group.alex.wait_video_live("Sam")
    group.sam.wait_video_live("Alex")
    group.sam.screenshot("reconnected")


def test_a_reload_goes_straight_back_into_the_room(group: Group) -> None:
    group.ensure_admitted()
    alex = group.alex.page
    alex.reload()
    expect(alex.get_by_test_id("room")).to_be_visible()
    assert "token" not in alex.url
    group.alex.wait_video_live("Sam")
    group.sam.wait_video_live("Alex")


def test_a_member_who_leaves_can_rejoin(group: Group) -> None:
    group.ensure_admitted()
    alex = group.alex.page
    alex.get_by_test_id("leave-button").click()
    alex.get_by_test_id("confirm-yes").click()
    expect(alex.get_by_test_id("end-left")).to_be_visible()
    group.alex.at_sizes("left")
    alex.get_by_test_id("rejoin-button").click()
    group.alex.join()
    expect(alex.get_by_test_id("room")).to_be_visible()
    group.alex.wait_video_live("Sam")


def test_removed_member_page_says_so(group: Group) -> None:
    group.ensure_admitted()
    console = group.facilitator.page
    member_action(console, "Sam", "remove-button")
    console.get_by_test_id("confirm-yes").click()
    expect(group.sam.page.get_by_test_id("end-removed")).to_be_visible()
    expect(group.sam.page.get_by_test_id("end-removed")).to_contain_text("removed you")
    expect(console.get_by_test_id("member-row")).to_have_count(1)
    expect(group.alex.tile("Sam")).to_have_count(0)
    group.sam.screenshot("removed")


def test_ending_the_session_shows_everyone_the_end(group: Group) -> None:
    group.ensure_admitted()
    console = group.facilitator.page
    console.get_by_test_id("end-button").click()
    console.get_by_test_id("confirm-yes").click()
    expect(group.alex.page.get_by_test_id("end-ended")).to_contain_text("The session has ended")
    expect(console.get_by_test_id("end-ended")).to_be_visible()
    group.alex.screenshot("ended")
