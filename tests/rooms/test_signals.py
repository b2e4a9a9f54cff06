"""Quiet signals and media rules: devices, strict floor, forced mute, nods, notes, help."""

from __future__ import annotations

import pytest

from rooms import commands as c
from rooms.controller import apply, tick
from rooms.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited
from rooms.events import (
    Audited,
    HelpAcknowledged,
    HelpRequested,
    MediaPolicyChanged,
    NodSent,
    NoteSent,
    StateChanged,
)
from rooms.model import FloorMode, Phase, Status, stream_id_for
from tests.rooms.helpers import COFAC, FAC, connect, live_group, snapshot

# Devices and who is heard


def test_media_state_is_the_members_own() -> None:
    s = live_group()
    events = apply(s, "ann", c.SetMedia(audio=True, video=False), 5.0)
    assert events == [StateChanged(), MediaPolicyChanged()]
    ann = s.participants["ann"]
    assert (ann.audio, ann.video) == (True, False)
    version = s.version
    assert apply(s, "ann", c.SetMedia(audio=True, video=False), 6.0) == []
    assert s.version == version


def test_waiting_member_may_set_devices() -> None:
    s = live_group()
    connect(s, "dan", now=5.0)
    apply(s, "dan", c.SetMedia(audio=False, video=True), 6.0)
    assert s.participants["dan"].video


@pytest.mark.parametrize("mode", [FloorMode.OPEN, FloorMode.HANDS])
def test_open_and_hands_modes_enforce_nothing_on_media(mode: FloorMode) -> None:
    s = live_group()
    apply(s, FAC, c.SetAgenda((Phase("talk", 20, mode),)), 5.0)
    assert all(s.audible(p) for p in ("ann", "bob", "cat", FAC))


def test_strict_floor_makes_only_holder_and_facilitators_audible() -> None:
    s = live_group(cofacilitator=True)
    events = apply(s, FAC, c.SetAgenda((Phase("practice", 20, FloorMode.STRICT),)), 5.0)
    assert MediaPolicyChanged() in events
    assert {p: s.audible(p) for p in ("ann", "bob", FAC, COFAC)} == {
        "ann": False,
        "bob": False,
        FAC: True,
        COFAC: True,
    }
    apply(s, FAC, c.GrantFloor("ann"), 6.0)
    assert s.audible("ann") and not s.audible("bob")
    apply(s, FAC, c.GrantFloor("bob"), 7.0)
    assert s.audible("bob") and not s.audible("ann")


def test_strict_phase_reached_by_phase_next_applies() -> None:
    s = live_group()
    strict = (Phase("open", 10, FloorMode.OPEN), Phase("practice", 10, FloorMode.STRICT))
    apply(s, FAC, c.SetAgenda(strict), 5.0)
    assert s.audible("ann")
    assert MediaPolicyChanged() in apply(s, FAC, c.NextPhase(), 6.0)
    assert not s.audible("ann")


def test_nobody_outside_the_room_is_audible() -> None:
    s = live_group()
    connect(s, "dan", now=5.0)
    apply(s, FAC, c.Remove("cat"), 6.0)
    assert not s.audible("dan") and not s.audible("cat") and not s.audible("zed")


# Forced mute


def test_forced_mute_blocks_audio_and_self_unmute() -> None:
    s = live_group()
    apply(s, "ann", c.SetMedia(audio=True, video=True), 5.0)
    events = apply(s, FAC, c.Mute("ann"), 6.0)
    ann = s.participants["ann"]
    assert ann.forced_mute and not ann.audio and ann.video
    assert Audited("mute", "ann") in events and MediaPolicyChanged() in events
    assert not s.audible("ann")
    before = snapshot(s)
    with pytest.raises(Conflict):
        apply(s, "ann", c.SetMedia(audio=True, video=True), 7.0)
    assert snapshot(s) == before
    apply(s, "ann", c.SetMedia(audio=False, video=False), 8.0)  # turning things off is always fine
    assert not ann.video


def test_allow_unmute_does_not_unmute() -> None:
    s = live_group()
    apply(s, "ann", c.SetMedia(audio=True, video=False), 5.0)
    apply(s, FAC, c.Mute("ann"), 6.0)
    events = apply(s, FAC, c.AllowUnmute("ann"), 7.0)
    ann = s.participants["ann"]
    assert not ann.forced_mute and not ann.audio
    assert Audited("unmute.allow", "ann") in events
    assert s.audible("ann")  # may be forwarded again once the member turns the mic on themselves
    apply(s, "ann", c.SetMedia(audio=True, video=False), 8.0)
    assert ann.audio


def test_no_command_lets_a_facilitator_turn_a_members_mic_on() -> None:
    s = live_group()
    for command in (c.Mute("ann"), c.AllowUnmute("ann")):
        apply(s, FAC, command, 5.0)
        assert not s.participants["ann"].audio


def test_mute_and_allow_unmute_are_idempotent() -> None:
    s = live_group()
    assert apply(s, FAC, c.AllowUnmute("ann"), 5.0) == []
    apply(s, FAC, c.Mute("ann"), 6.0)
    assert apply(s, FAC, c.Mute("ann"), 7.0) == []


def test_facilitators_are_not_muted_by_others() -> None:
    s = live_group(cofacilitator=True)
    with pytest.raises(Forbidden):
        apply(s, COFAC, c.Mute(FAC), 5.0)
    with pytest.raises(Forbidden):
        apply(s, FAC, c.Mute(COFAC), 5.0)


def test_mute_needs_someone_in_the_session() -> None:
    s = live_group()
    apply(s, FAC, c.Remove("cat"), 4.0)
    for target in ("zed", "cat"):
        with pytest.raises(NotFound):
            apply(s, FAC, c.Mute(target), 5.0)


def test_forced_mute_survives_leaving_and_rejoining() -> None:
    s = live_group()
    apply(s, FAC, c.Mute("ann"), 5.0)
    apply(s, "ann", c.Disconnect(), 6.0)
    tick(s, 6.0 + s.grace_seconds)
    assert s.participants["ann"].status is Status.LEFT
    connect(s, "ann", now=100.0)
    assert s.participants["ann"].forced_mute
    with pytest.raises(Conflict):
        apply(s, "ann", c.SetMedia(audio=True, video=False), 101.0)


# Nods


def test_nod_goes_to_the_speaker_and_the_facilitators() -> None:
    s = live_group(cofacilitator=True)
    apply(s, FAC, c.GrantFloor("bob"), 5.0)
    version = s.version
    assert apply(s, "ann", c.Nod(), 6.0) == [NodSent("ann", tuple(sorted((COFAC, FAC, "bob"))))]
    assert s.version == version  # a nod is not state


def test_nod_with_nobody_speaking_reaches_only_the_facilitators() -> None:
    s = live_group()
    assert apply(s, "ann", c.Nod(), 6.0) == [NodSent("ann", (FAC,))]


def test_speaker_does_not_nod_to_themselves() -> None:
    s = live_group()
    apply(s, FAC, c.GrantFloor("ann"), 5.0)
    assert apply(s, "ann", c.Nod(), 6.0) == [NodSent("ann", (FAC,))]


def test_nod_rate_limited_one_per_three_seconds() -> None:
    s = live_group()
    apply(s, "ann", c.Nod(), 10.0)
    before = snapshot(s)
    with pytest.raises(RateLimited):
        apply(s, "ann", c.Nod(), 12.9)
    assert snapshot(s) == before
    apply(s, "bob", c.Nod(), 11.0)  # the limit is per member
    apply(s, "ann", c.Nod(), 13.0)
    with pytest.raises(RateLimited):
        apply(s, "ann", c.Nod(), 15.0)


def test_facilitators_and_waiting_members_do_not_nod() -> None:
    s = live_group()
    connect(s, "dan", now=5.0)
    for actor in (FAC, "dan"):
        with pytest.raises(Forbidden):
            apply(s, actor, c.Nod(), 6.0)


# Private notes


def test_note_goes_only_between_facilitator_and_member() -> None:
    s = live_group(cofacilitator=True)
    assert apply(s, FAC, c.Note("ann", "How are you?"), 5.0) == [NoteSent(FAC, "ann", "How are you?")]
    assert apply(s, "ann", c.Note(COFAC, "ok"), 6.0) == [NoteSent("ann", COFAC, "ok")]
    assert apply(s, COFAC, c.Note(FAC, "watch bob"), 6.0) == [NoteSent(COFAC, FAC, "watch bob")]
    with pytest.raises(Forbidden):
        apply(s, "ann", c.Note("bob", "psst"), 7.0)


def test_note_is_never_state() -> None:
    s = live_group()
    before = snapshot(s)
    apply(s, FAC, c.Note("ann", "a private word"), 5.0)
    assert snapshot(s) == before
    assert "a private word" not in repr(snapshot(s))


def test_facilitator_talks_privately_with_someone_waiting() -> None:
    s = live_group()
    connect(s, "dan", now=5.0)
    assert apply(s, FAC, c.Note("dan", "Welcome"), 6.0) == [NoteSent(FAC, "dan", "Welcome")]
    assert apply(s, "dan", c.Note(FAC, "Hi"), 7.0) == [NoteSent("dan", FAC, "Hi")]
    with pytest.raises(Forbidden):
        apply(s, "dan", c.Note("ann", "Hi"), 7.0)


@pytest.mark.parametrize("text", ["", "   \n", "x" * 2001])
def test_note_text_has_one_to_2000_characters(text: str) -> None:
    s = live_group()
    with pytest.raises(Invalid):
        apply(s, FAC, c.Note("ann", text), 5.0)


def test_note_needs_someone_present_other_than_yourself() -> None:
    s = live_group()
    apply(s, FAC, c.Remove("cat"), 4.0)
    with pytest.raises(NotFound):
        apply(s, FAC, c.Note("zed", "hi"), 5.0)
    with pytest.raises(NotFound):
        apply(s, FAC, c.Note("cat", "hi"), 5.0)
    with pytest.raises(Conflict):
        apply(s, FAC, c.Note(FAC, "hi"), 5.0)


# Help


def test_help_reaches_facilitators_and_stays_open_until_acknowledged() -> None:
    s = live_group()
    assert apply(s, "ann", c.Help(), 42.0) == [HelpRequested("ann", 42.0), StateChanged()]
    assert s.participants["ann"].help_since == 42.0
    # Pressed again while open: the facilitators are reminded; the request keeps its first time.
    assert apply(s, "ann", c.Help(), 50.0) == [HelpRequested("ann", 50.0)]
    assert s.participants["ann"].help_since == 42.0


def test_acknowledging_help_tells_the_member_and_closes_the_request() -> None:
    s = live_group(cofacilitator=True)
    apply(s, "ann", c.Help(), 42.0)
    events = apply(s, COFAC, c.AckHelp("ann"), 45.0)
    assert events == [HelpAcknowledged("ann", COFAC, 45.0), StateChanged(), Audited("help.ack", "ann")]
    assert s.participants["ann"].help_since is None
    assert apply(s, FAC, c.AckHelp("ann"), 46.0) == []  # the other facilitator was a moment later


@pytest.mark.parametrize(
    ("actor", "target", "error"),
    [("bob", "ann", Forbidden), (FAC, "nobody", NotFound)],
)
def test_only_facilitators_acknowledge_help_for_someone_real(actor: str, target: str, error: type[Exception]) -> None:
    s = live_group()
    apply(s, "ann", c.Help(), 42.0)
    before = snapshot(s)
    with pytest.raises(error):
        apply(s, actor, c.AckHelp(target), 43.0)
    assert snapshot(s) == before


def test_a_member_who_asked_for_help_and_left_can_still_be_acknowledged() -> None:
    s = live_group()
    apply(s, "ann", c.Help(), 42.0)
    apply(s, "ann", c.Disconnect(), 43.0)
    tick(s, 43.0 + s.grace_seconds)
    assert s.participants["ann"].status is Status.LEFT and s.participants["ann"].help_since == 42.0
    assert HelpAcknowledged("ann", FAC, 200.0) in apply(s, FAC, c.AckHelp("ann"), 200.0)


def test_waiting_member_may_ask_for_help() -> None:
    s = live_group()
    connect(s, "dan", now=5.0)
    assert apply(s, "dan", c.Help(), 6.0) == [HelpRequested("dan", 6.0), StateChanged()]


def test_facilitators_do_not_ask_for_help() -> None:
    s = live_group()
    with pytest.raises(Forbidden):
        apply(s, FAC, c.Help(), 5.0)


# System signals from the media layer


def test_publishing_shows_a_stream_id() -> None:
    s = live_group()
    assert s.participants["ann"].stream_ids == []
    assert apply(s, "ann", c.SetPublishing(True), 5.0) == [StateChanged()]
    assert s.participants["ann"].stream_ids == [stream_id_for("ann")]
    assert apply(s, "ann", c.SetPublishing(True), 6.0) == []


def test_system_commands_need_a_participant() -> None:
    s = live_group()
    for command in (c.SetPublishing(True), c.Disconnect()):
        with pytest.raises(Forbidden):
            apply(s, "zed", command, 5.0)


def test_speaking_time_adds_up_as_seconds_only() -> None:
    s = live_group()
    apply(s, FAC, c.RecordSpeaking((("ann", 2.5), ("bob", 0.0), ("zed", 4.0))), 5.0)
    apply(s, FAC, c.RecordSpeaking((("ann", 1.5),)), 6.0)
    assert s.participants["ann"].spoke_seconds == 4.0
    assert s.participants["bob"].spoke_seconds == 0.0
    version = s.version
    assert apply(s, FAC, c.RecordSpeaking((("bob", 0.0), ("ann", -1.0))), 7.0) == []
    assert s.version == version


def test_help_presses_within_five_seconds_count_as_one() -> None:
    import pytest

    from rooms import commands as cmd
    from rooms.controller import apply
    from rooms.errors import RateLimited
    from rooms.events import HelpRequested
    from rooms.model import Role, Session

    s = Session("s", "t", 0.0, requires_agreement=False)
    apply(s, "f", cmd.Connect("F", Role.FACILITATOR), 1.0)
    apply(s, "m", cmd.Connect("M", Role.MEMBER), 1.0)
    assert HelpRequested("m", 2.0) in apply(s, "m", cmd.Help(), 2.0)
    with pytest.raises(RateLimited):
        apply(s, "m", cmd.Help(), 4.0)
    assert apply(s, "m", cmd.Help(), 7.5) == [HelpRequested("m", 7.5)]


def test_audio_only_is_the_members_own_choice_and_the_forwarder_is_told() -> None:
    s = live_group()
    assert s.receives_video("ann")
    assert apply(s, "ann", c.SetReceive(video=False), 5.0) == [StateChanged(), MediaPolicyChanged()]
    assert not s.receives_video("ann") and s.receives_video("bob")
    assert apply(s, "ann", c.SetReceive(video=False), 6.0) == []
    apply(s, "ann", c.SetReceive(video=True), 7.0)
    assert s.receives_video("ann")
    connect(s, "dan", now=8.0)  # waiting: nothing is forwarded to them either way
    assert not s.receives_video("dan")
    with pytest.raises(Forbidden):
        apply(s, "dan", c.SetReceive(video=False), 9.0)
