"""Quiet signals and media rules: devices, forced mute, nods, private notes, help.

A facilitator may mute a member but never unmute them: ``unmute.allow`` only lifts the block, and the
member turns their own microphone back on. Notes and help are delivered, never stored.
"""

from __future__ import annotations

from rooms import commands as c
from rooms.errors import Conflict, Forbidden, Invalid, NotFound, paced
from rooms.events import (
    Audited,
    Event,
    HelpAcknowledged,
    HelpRequested,
    MediaPolicyChanged,
    NodSent,
    NoteSent,
    SpeakingRecorded,
    StateChanged,
)
from rooms.model import HELP_INTERVAL_SECONDS, NOD_INTERVAL_SECONDS, Participant, Role, Session, Status

MAX_NOTE_CHARS = 2000


def set_media(s: Session, actor: Participant, cmd: c.SetMedia, now: float) -> list[Event]:
    if cmd.audio and actor.forced_mute:
        raise Conflict("a facilitator has muted you; wait until they allow you to unmute")
    if (actor.audio, actor.video) == (cmd.audio, cmd.video):
        return []
    actor.audio, actor.video = cmd.audio, cmd.video
    return [StateChanged(), MediaPolicyChanged()]


def set_receive(s: Session, actor: Participant, cmd: c.SetReceive, now: float) -> list[Event]:
    """Audio-only mode on or off: the member's own choice, for a weak link; the forwarder follows it."""
    if actor.receive_video == cmd.video:
        return []
    actor.receive_video = cmd.video
    return [StateChanged(), MediaPolicyChanged()]


def mute(s: Session, actor: Participant, cmd: c.Mute, now: float) -> list[Event]:
    target = _present(s, cmd.id)
    if target.role is not Role.MEMBER:
        raise Forbidden("facilitators are not muted by others")
    if target.forced_mute:
        return []
    target.forced_mute, target.audio = True, False
    return [StateChanged(), MediaPolicyChanged(), Audited("mute", target.id)]


def allow_unmute(s: Session, actor: Participant, cmd: c.AllowUnmute, now: float) -> list[Event]:
    target = _present(s, cmd.id)
    if not target.forced_mute:
        return []
    target.forced_mute = False
    return [StateChanged(), MediaPolicyChanged(), Audited("unmute.allow", target.id)]


def nod(s: Session, actor: Participant, cmd: c.Nod, now: float) -> list[Event]:
    """A silent "I relate": to the speaker and the facilitators, at most one per member per 3 s."""
    actor.last_nod_at = paced(actor.last_nod_at, now, NOD_INTERVAL_SECONDS, "one nod every few seconds")
    to = {p.id for p in s.admitted() if p.role.leads}
    if s.floor is not None:
        to.add(s.floor.holder)
    to.discard(actor.id)
    return [NodSent(actor.id, tuple(sorted(to)))]


def note(s: Session, actor: Participant, cmd: c.Note, now: float) -> list[Event]:
    """A private note runs only between a facilitator and one participant, in either direction."""
    if not cmd.text.strip() or len(cmd.text) > MAX_NOTE_CHARS:
        raise Invalid(f"a note has 1 to {MAX_NOTE_CHARS} characters")
    target = _present(s, cmd.to)
    if target.id == actor.id:
        raise Conflict("a note to yourself")
    if not actor.role.leads and not target.role.leads:
        raise Forbidden("members send notes to a facilitator only")
    return [NoteSent(actor.id, target.id, cmd.text)]


def help_request(s: Session, actor: Participant, cmd: c.Help, now: float) -> list[Event]:
    """Private to the facilitators; repeated presses within a few seconds are one request.

    The request stays open (``help_since``, in the facilitators' view only) until a facilitator
    acknowledges it, so a console opened or reloaded later still shows it.
    """
    already = "the facilitators already know; they will reach out to you"
    actor.last_help_at = paced(actor.last_help_at, now, HELP_INTERVAL_SECONDS, already)
    if actor.help_since is not None:  # still open: remind the facilitators, nothing else changes
        return [HelpRequested(actor.id, now)]
    actor.help_since = now
    return [HelpRequested(actor.id, now), StateChanged()]


def ack_help(s: Session, actor: Participant, cmd: c.AckHelp, now: float) -> list[Event]:
    """A facilitator is on it: the member hears so, and every console's alert goes.

    Acknowledging what is already acknowledged (two facilitators at once) changes nothing.
    """
    target = s.participants.get(cmd.id)
    if target is None:
        raise NotFound(f"no participant {cmd.id}")
    if target.help_since is None:
        return []
    target.help_since = None
    return [HelpAcknowledged(target.id, actor.id, now), StateChanged(), Audited("help.ack", target.id)]


def set_publishing(s: Session, p: Participant, cmd: c.SetPublishing, now: float) -> list[Event]:
    if p.publishing == cmd.publishing:
        return []
    p.publishing = cmd.publishing
    return [StateChanged()]


def record_speaking(s: Session, cmd: c.RecordSpeaking) -> list[Event]:
    """Add measured speaking durations to the attendance record (seconds only, never content)."""
    changed = False
    for pid, seconds in cmd.seconds:
        p = s.participants.get(pid)
        if p is not None and seconds > 0:
            p.spoke_seconds += seconds
            changed = True
    return [SpeakingRecorded()] if changed else []


def _present(s: Session, pid: str) -> Participant:
    p = s.participants.get(pid)
    if p is None or p.status not in (Status.ADMITTED, Status.WAITING):
        raise NotFound(f"no participant {pid} in the session")
    return p
