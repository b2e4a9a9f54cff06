"""The session's structure: an ordered agenda of phases, each with minutes and a floor mode.

Phases never advance by themselves: a facilitator decides when the group is ready, and ``tick`` only
marks a phase as over its time so the console can say so.
"""

from __future__ import annotations

from rooms import commands as c
from rooms.errors import Conflict, Invalid, NotFound
from rooms.events import Audited, Event, MediaPolicyChanged, StateChanged
from rooms.model import Participant, Phase, Session
from rooms.turns import end_go_around

MAX_PHASES = 20
MAX_PHASE_MINUTES = 240.0


def validate_agenda(phases: tuple[Phase, ...] | list[Phase]) -> list[Phase]:
    if not phases:
        raise Invalid("the agenda needs at least one phase")
    if len(phases) > MAX_PHASES:
        raise Invalid(f"the agenda has at most {MAX_PHASES} phases")
    for phase in phases:
        if not phase.name.strip():
            raise Invalid("every phase needs a name")
        if not 0 < phase.minutes <= MAX_PHASE_MINUTES:
            raise Invalid(f"a phase lasts more than 0 and at most {MAX_PHASE_MINUTES:g} minutes")
    return list(phases)


def set_agenda(s: Session, actor: Participant, cmd: c.SetAgenda, now: float) -> list[Event]:
    """Replace the agenda; the current phase index is kept when it still exists."""
    s.agenda = validate_agenda(cmd.phases)
    s.phase_overtime = False  # the current phase may have new minutes; tick marks it again if over
    if s.phase_index >= len(s.agenda):
        _enter(s, len(s.agenda) - 1, now)
    return [StateChanged(), MediaPolicyChanged(), Audited("agenda.set")]


def next_phase(s: Session, actor: Participant, cmd: c.NextPhase, now: float) -> list[Event]:
    if s.phase_index + 1 >= len(s.agenda):
        raise Conflict("this is the last phase")
    _enter(s, s.phase_index + 1, now)
    return [StateChanged(), MediaPolicyChanged(), Audited("phase", str(s.phase_index))]


def set_phase(s: Session, actor: Participant, cmd: c.SetPhase, now: float) -> list[Event]:
    if not 0 <= cmd.index < len(s.agenda):
        raise NotFound(f"no phase {cmd.index}")
    _enter(s, cmd.index, now)
    return [StateChanged(), MediaPolicyChanged(), Audited("phase", str(s.phase_index))]


def phase_ends_at(s: Session) -> float | None:
    if s.phase_started_at is None:
        return None
    return s.phase_started_at + s.phase.minutes * 60.0


def _enter(s: Session, index: int, now: float) -> None:
    """A new phase starts its clock; a go-around belongs to the phase it was started in."""
    s.phase_index = index
    s.phase_started_at = now
    s.phase_overtime = False
    end_go_around(s)
