"""The console updates only the panels whose part of the state changed (#17), seen in Chromium.

AppState's 'change' says what changed (web/ui/changes.js); each panel follows its parts. A
MutationObserver on the waiting room panel counts every write into it (an attribute set again to
the same value counts too): a private note and a nod leave it untouched, someone new in the waiting
room does not. The roster is no witness here: it counts speaking shares anew once a second.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import PersonFactory
from tests.web.hearth_process import HearthServer
from tests.web.quiet_members import QuietMembers

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PANELS = ("lobby-panel", "notes-panel")

# Count the DOM writes into each panel from now on, by its data-testid.
WATCH_JS = """(testids) => {
  window.touched = Object.fromEntries(testids.map((id) => [id, 0]));
  for (const id of testids) {
    const panel = document.querySelector(`[data-testid="${id}"]`);
    new MutationObserver((records) => { window.touched[id] += records.length; })
      .observe(panel, {subtree: true, childList: true, attributes: true, characterData: true});
  }
}"""
RESET_JS = "() => { for (const id of Object.keys(window.touched)) window.touched[id] = 0; }"


def touched(console: Page) -> dict[str, int]:
    counts: dict[str, int] = console.evaluate("() => ({...window.touched})")
    return counts


def test_a_note_and_a_nod_leave_the_waiting_room_panel_untouched_and_a_newcomer_there_does_not(
    hearth: HearthServer, new_person: PersonFactory
) -> None:
    created = hearth.create_session("Scoped updates", requires_agreement=False, admission="lobby")
    session_id = created["id"]
    lead = new_person("Dana", created["facilitator_url"])
    lead.open()
    lead.join()
    console = lead.page
    expect(console.get_by_test_id("console")).to_be_visible()
    lead_id: str = console.evaluate("() => window.hearth.you.id")
    quiet = QuietMembers.seat(hearth, session_id, ["Ada", "Ben", "Cleo"])
    late: QuietMembers | None = None
    try:
        entries = console.get_by_test_id("lobby-entry")
        expect(entries).to_have_count(3)
        for name in ("Ada", "Ben"):
            entries.filter(has_text=name).get_by_test_id("admit-button").click()
            expect(console.get_by_test_id("member-row").filter(has_text=name)).to_be_visible()
        expect(entries).to_have_count(1)  # Cleo waits: her row is there to be rewritten, or not
        console.evaluate(WATCH_JS, list(PANELS))

        quiet.tell("Ada", "note " + json.dumps({"to": lead_id, "text": "Could we talk after the group?"}))
        expect(console.get_by_test_id("note").filter(has_text="Could we talk after the group?")).to_be_visible()
        after_note = touched(console)
        assert after_note["notes-panel"] > 0, after_note  # the observer sees what changed
        assert after_note["lobby-panel"] == 0, after_note

        console.evaluate(RESET_JS)
        quiet.tell("Ben", "nod")
        expect(console.get_by_test_id("nod-received").filter(has_text="Ben relates")).to_be_visible()
        assert touched(console)["lobby-panel"] == 0, touched(console)

        late = QuietMembers.seat(hearth, session_id, ["Eve"])
        expect(entries.filter(has_text="Eve")).to_be_visible()
        assert touched(console)["lobby-panel"] > 0, touched(console)
    finally:
        for members in (quiet, late):
            if members:
                members.close()
