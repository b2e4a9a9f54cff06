"""The session's structure: an ordered agenda of phases, each with minutes and a floor mode.

Phases never advance by themselves: a facilitator decides when the group is ready, and ``tick`` only
marks a phase as over its time so the console can say so. Entering a phase ends what belonged to the
last one (a go-around, a breakout); entering a ``pairs`` phase starts its breakout (``rooms.breakouts``).
"""

from __future__ import annotations

from rooms import commands as c
from rooms.breakouts import start_for_phase
from rooms.errors import Conflict, Invalid, NotFound
from rooms.events import Audited, Event, MediaPolicyChanged, StateChanged
from rooms.model import FloorMode, Participant, Phase, Session
from rooms.places import end_breakout
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
        _enter(s, len(s.agenda) - 1, now, seed=None)
    return [StateChanged(), MediaPolicyChanged(), Audited("agenda.set")]


def next_phase(s: Session, actor: Participant, cmd: c.NextPhase, now: float) -> list[Event]:
    if s.phase_index + 1 >= len(s.agenda):
        raise Conflict("this is the last phase")
    started = _enter(s, s.phase_index + 1, now, cmd.seed)
    return [StateChanged(), MediaPolicyChanged(), Audited("phase", str(s.phase_index)), *started]


def set_phase(s: Session, actor: Participant, cmd: c.SetPhase, now: float) -> list[Event]:
    if not 0 <= cmd.index < len(s.agenda):
        raise NotFound(f"no phase {cmd.index}")
    started = _enter(s, cmd.index, now, cmd.seed)
    return [StateChanged(), MediaPolicyChanged(), Audited("phase", str(s.phase_index)), *started]


def phase_ends_at(s: Session) -> float | None:
    if s.phase_started_at is None:
        return None
    return s.phase_started_at + s.phase.minutes * 60.0


def _enter(s: Session, index: int, now: float, seed: int | None) -> list[Event]:
    """A new phase starts its clock; a go-around or a breakout belongs to the phase it was started in.

    A ``pairs`` phase entered by a facilitator (``seed`` given) sends the main room into pairs; an
    agenda edit that happens to land on one (``seed`` None) starts nothing by itself.
    """
    s.phase_index = index
    s.phase_started_at = now
    s.phase_overtime = False
    end_go_around(s)
    end_breakout(s, now)
    if seed is None or s.phase.floor_mode is not FloorMode.PAIRS:
        return []
    return start_for_phase(s, s.phase.minutes, seed, now)
