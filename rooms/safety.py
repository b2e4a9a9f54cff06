"""The emergency plan: where each member is today and whom to call, for the facilitators only.

Telehealth group therapy confirms, at every session, each member's current location and an emergency
contact, privately, so help can be sent to the right place if a crisis happens, and agrees a plan for
a dropped call: the member may add how to reach them if the connection drops (``callback``, optional;
the facilitators' console brings it up when that member's connection drops). Hearth carries that
plan from the member to the facilitators connected at that moment and keeps nothing of it: the session
stores only *that* the member shared (``Participant.safety_shared``), never what they wrote. A
facilitator who joins later, or whose console reloaded, asks again (``safety.ask``); the member's
client answers from what the member typed, or the member types it again.

When a session is created with ``requires_safety_plan``, a member is admitted only after sharing
(``rooms.attendance.has_what_admission_needs``), as with the group agreement.
"""

from __future__ import annotations

from rooms import commands as c
from rooms.attendance import admit, may_auto_admit
from rooms.errors import Invalid, NotFound, paced
from rooms.events import Audited, Event, LobbyChanged, SafetyPlanAsked, SafetyPlanShared, StateChanged
from rooms.model import SAFETY_INTERVAL_SECONDS, Participant, Role, Session, Status

MAX_PLAN_CHARS = 200


def share(s: Session, actor: Participant, cmd: c.ShareSafetyPlan, now: float) -> list[Event]:
    """Deliver the plan to the facilitators; the first time, it may be what lets the member in."""
    for field, text in (("location", cmd.location), ("emergency contact", cmd.contact)):
        if not text.strip() or len(text) > MAX_PLAN_CHARS:
            raise Invalid(f"a {field} has 1 to {MAX_PLAN_CHARS} characters")
    if len(cmd.callback) > MAX_PLAN_CHARS:
        raise Invalid(f"a way to call back has at most {MAX_PLAN_CHARS} characters")
    again = f"one plan every {SAFETY_INTERVAL_SECONDS:g} seconds: send it again in a moment"
    actor.last_safety_at = paced(actor.last_safety_at, now, SAFETY_INTERVAL_SECONDS, again)
    plan = SafetyPlanShared(actor.id, cmd.location.strip(), cmd.contact.strip(), now, cmd.callback.strip())
    events: list[Event] = [plan]
    if not actor.safety_shared:
        actor.safety_shared = True
        events += [StateChanged(), LobbyChanged()]
        if may_auto_admit(s, actor):
            events += admit(s, actor, now)
    return events


def ask(s: Session, actor: Participant, cmd: c.AskSafetyPlan, now: float) -> list[Event]:
    """Ask one member, or every member waiting or in the room, to share their plan (again)."""
    present = (Status.WAITING, Status.ADMITTED)
    if cmd.id is None:
        to = tuple(p.id for p in s.participants.values() if p.role is Role.MEMBER and p.status in present)
    else:
        target = s.participants.get(cmd.id)
        if target is None or target.role is not Role.MEMBER or target.status not in present:
            raise NotFound(f"no member {cmd.id} in the session")
        to = (target.id,)
    return [SafetyPlanAsked(to), Audited("safety.ask", cmd.id)] if to else []
