"""Builders for sessions in a known state, driven only through ``controller.apply``.

Time is an argument everywhere: tests pass ``now`` explicitly and never sleep.
"""

from __future__ import annotations

from typing import Any

import pytest

from rooms import commands as c
from rooms.codec import session_to_dict
from rooms.controller import apply
from rooms.errors import RoomError
from rooms.events import Event
from rooms.model import Admission, Role, Session

FAC = "fac"
COFAC = "cofac"


def new_session(**overrides: Any) -> Session:
    """A session as the operator creates it: nobody connected yet."""
    return Session(id="s1", title="Tuesday evening group", created_at=0.0, **overrides)


def connect(s: Session, pid: str, role: Role = Role.MEMBER, now: float = 0.0) -> list[Event]:
    return apply(s, pid, c.Connect(name=pid.title(), role=role), now)


def admit_member(s: Session, pid: str, now: float = 1.0, by: str = FAC) -> None:
    """A member arrives, accepts the agreement (and shares a plan) as required, and is admitted."""
    connect(s, pid, now=now)
    if s.requires_agreement:
        apply(s, pid, c.Agree(), now)
    if s.requires_safety_plan:
        apply(s, pid, c.ShareSafetyPlan("at home", "a friend, 555 0100"), now)
    if s.admission is Admission.LOBBY:
        apply(s, by, c.Admit(pid), now)


def live_group(
    members: tuple[str, ...] = ("ann", "bob", "cat"), *, cofacilitator: bool = False, **overrides: Any
) -> Session:
    """A live session: the facilitator at t=0, then each member admitted one second apart."""
    s = new_session(**overrides)
    connect(s, FAC, Role.FACILITATOR, now=0.0)
    if cofacilitator:
        connect(s, COFAC, Role.COFACILITATOR, now=0.0)
    for i, pid in enumerate(members, start=1):
        admit_member(s, pid, now=float(i))
    return s


def snapshot(s: Session) -> dict[str, Any]:
    return session_to_dict(s)


def kinds(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


# A refusal, as table rows: (case, actor, setup as (who, command) steps, the command, the error).
Refusal = tuple[str, str, list[tuple[str, c.Command]], c.Command, type[RoomError]]


def assert_refused(
    s: Session, actor: str, setup: list[tuple[str, c.Command]], command: c.Command, error: type[RoomError], now: float
) -> None:
    """After ``setup`` (a second before ``now``), ``command`` is refused with ``error`` and changes nothing."""
    for who, step in setup:
        apply(s, who, step, now - 1)
    before = snapshot(s)
    with pytest.raises(error):
        apply(s, actor, command, now)
    assert snapshot(s) == before
