"""Who hears and sees whom, by place and floor: every ordered pair of a session, as tables.

Each case builds a session through the controller, then lists every (receiver, publisher) pair that
receives audio and every pair that receives video; all other pairs must receive nothing. ``r>p``
reads "r receives p".
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import permutations

import pytest

from rooms import commands as c
from rooms.controller import apply
from rooms.model import FloorMode, Phase, Session
from rooms.places import hears, sees
from tests.rooms.helpers import COFAC, FAC, live_group

MEMBERS = ("ann", "bob", "cat", "dan", "eve")
STRICT = (Phase("practice", 20, FloorMode.STRICT),)


def everyone(s: Session) -> list[str]:
    return [p.id for p in s.admitted()]


def pairs(s: Session, receives: Callable[[Session, str, str], bool]) -> set[str]:
    return {f"{r}>{p}" for r, p in permutations(everyone(s), 2) if receives(s, r, p)}


def among(*ids: str) -> set[str]:
    """Everyone of ``ids`` receives everyone else of them."""
    return {f"{r}>{p}" for r, p in permutations(ids, 2)}


def to(receivers: tuple[str, ...], publishers: tuple[str, ...]) -> set[str]:
    return {f"{r}>{p}" for r in receivers for p in publishers if r != p}


MAIN_ALL = (FAC, COFAC, *MEMBERS)


def main_room() -> Session:
    return live_group(MEMBERS, cofacilitator=True)


def strict_floor() -> Session:
    s = live_group(MEMBERS, cofacilitator=True)
    apply(s, FAC, c.SetAgenda(STRICT), 9.0)
    apply(s, FAC, c.GrantFloor("ann"), 10.0)
    return s


def side_room() -> Session:
    s = main_room()
    apply(s, COFAC, c.StartSideRoom("ann"), 10.0)
    return s


def pairs_of_two() -> Session:
    s = main_room()
    apply(s, FAC, c.StartBreakout(5, groups=(("ann", "bob"), ("cat", "dan"))), 10.0)
    return s


def groups_of_three() -> Session:
    s = main_room()
    apply(s, FAC, c.StartBreakout(5, groups=(("ann", "bob", "cat"), ("dan", "eve"))), 10.0)
    return s


def visiting(listen_only: bool) -> Callable[[], Session]:
    def build() -> Session:
        s = pairs_of_two()
        apply(s, COFAC, c.VisitGroup(0, listen_only=listen_only), 11.0)
        return s

    return build


def muted_in(where: str) -> Callable[[], Session]:
    def build() -> Session:
        s = side_room() if where == "side" else pairs_of_two()
        apply(s, FAC, c.Mute("ann"), 11.0)
        return s

    return build


def strict_with_breakout() -> Session:
    s = strict_floor()  # ann holds the floor, and goes to a group
    apply(s, FAC, c.StartBreakout(5, groups=(("ann", "bob"), ("cat", "dan"))), 12.0)
    return s


def holder_taken_aside() -> Session:
    s = strict_floor()
    apply(s, COFAC, c.StartSideRoom("ann"), 11.0)
    return s


# case: (build, who receives audio, who receives video)
CASES: dict[str, tuple[Callable[[], Session], set[str], set[str]]] = {
    "everyone in the main room, hands": (main_room, among(*MAIN_ALL), among(*MAIN_ALL)),
    "strict floor in the main room: the holder and the facilitators are heard": (
        strict_floor,
        to(MAIN_ALL, ("ann", FAC, COFAC)),
        among(*MAIN_ALL),
    ),
    "a side room: the two hear only each other, and nobody else hears them": (
        side_room,
        among(COFAC, "ann") | among(FAC, "bob", "cat", "dan", "eve"),
        among(COFAC, "ann") | among(FAC, "bob", "cat", "dan", "eve"),
    ),
    "groups of two": (
        pairs_of_two,
        among("ann", "bob") | among("cat", "dan") | among(FAC, COFAC, "eve"),
        among("ann", "bob") | among("cat", "dan") | among(FAC, COFAC, "eve"),
    ),
    "groups of three": (
        groups_of_three,
        among("ann", "bob", "cat") | among("dan", "eve") | among(FAC, COFAC),
        among("ann", "bob", "cat") | among("dan", "eve") | among(FAC, COFAC),
    ),
    "a facilitator visiting to listen: hears and is seen, but is not heard": (
        visiting(listen_only=True),
        among("ann", "bob") | to((COFAC,), ("ann", "bob")) | among("cat", "dan") | among(FAC, "eve"),
        among(COFAC, "ann", "bob") | among("cat", "dan") | among(FAC, "eve"),
    ),
    "a facilitator visiting to speak: one of the group while there": (
        visiting(listen_only=False),
        among(COFAC, "ann", "bob") | among("cat", "dan") | among(FAC, "eve"),
        among(COFAC, "ann", "bob") | among("cat", "dan") | among(FAC, "eve"),
    ),
    "forced mute holds in a side room": (
        muted_in("side"),
        to(("ann",), (COFAC,)) | among(FAC, "bob", "cat", "dan", "eve"),
        among(COFAC, "ann") | among(FAC, "bob", "cat", "dan", "eve"),
    ),
    "forced mute holds in a group": (
        muted_in("group"),
        to(("ann",), ("bob",)) | among("cat", "dan") | among(FAC, COFAC, "eve"),
        among("ann", "bob") | among("cat", "dan") | among(FAC, COFAC, "eve"),
    ),
    "strict main room: the floor is the main room's, the groups talk freely": (
        strict_with_breakout,
        among("ann", "bob") | among("cat", "dan") | to((FAC, COFAC, "eve"), (FAC, COFAC)),
        among("ann", "bob") | among("cat", "dan") | among(FAC, COFAC, "eve"),
    ),
    "a holder taken aside: the main room hears its facilitators, not the absent holder": (
        holder_taken_aside,
        among(COFAC, "ann") | to((FAC, "bob", "cat", "dan", "eve"), (FAC,)),
        among(COFAC, "ann") | among(FAC, "bob", "cat", "dan", "eve"),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_who_hears_and_sees_whom(case: str) -> None:
    build, audio, video = CASES[case]
    s = build()
    assert pairs(s, hears) == audio
    assert pairs(s, sees) == video


def test_nobody_receives_themselves_nor_anyone_outside_the_room() -> None:
    s = pairs_of_two()
    apply(s, FAC, c.Remove("eve"), 12.0)
    for pid in everyone(s):
        assert not hears(s, pid, pid) and not sees(s, pid, pid)
        assert not sees(s, pid, "eve") and not sees(s, "eve", pid)
        assert not sees(s, pid, "nobody") and not hears(s, "nobody", pid)


def test_hearing_implies_seeing_and_seeing_is_mutual_in_every_case() -> None:
    for build, _, _ in CASES.values():
        s = build()
        heard, seen = pairs(s, hears), pairs(s, sees)
        assert heard <= seen
        assert seen == {f"{p}>{r}" for r, p in (pair.split(">") for pair in seen)}
