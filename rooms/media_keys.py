"""Who hands out the session's media key, and to whom it may go: the rules of end-to-end encryption.

The key itself is made in a facilitator's browser and reaches each admitted participant wrapped to
that participant's own public key; the server only relays public keys and ciphertext. What the
server decides is who distributes (the key holder) and whether a grant may be relayed at all: only a
facilitator or co-facilitator sends grants, and only to admitted participants of their own session
(a waiting, denied, removed or departed member never receives one).

Not every client takes part: a client that never said it speaks e2ee (an outside client: aiortc,
python-socketio) counts as *unable*, like a browser that said it cannot encrypt. What follows from
the unable present is decided here too: a ``preferred`` session goes in the clear for everyone when
one of them is admitted (the holder's page decides, from the keys it is told) or when every
facilitator present is unable, so nobody can hold the key (``clear_without_holder``: then the server
tells the members, ``clear_recipients``, as no holder can); a ``required`` session never goes clear:
an unable client may not send media into it (``check_media``).
"""

from __future__ import annotations

from collections.abc import Collection

from rooms.errors import Conflict, Forbidden, NotFound
from rooms.model import E2eeMode, Participant, Role, Session, Status


class EncryptionRequired(Forbidden):
    """A client that cannot encrypt tried to send media into a ``required`` session."""


def key_holder(s: Session, keyed: Collection[str], current: str | None) -> str | None:
    """The facilitator who distributes the media key: the current one while they are admitted,
    connected and have shared a public key; otherwise the lead facilitator if they can, else a
    co-facilitator (lowest id first, so every node and every console agrees). ``keyed``: the
    participants who shared a public key (not those who said their browser cannot encrypt)."""

    def can_hold(p: Participant | None) -> bool:
        return p is not None and p.role.leads and p.status is Status.ADMITTED and p.connected and p.id in keyed

    if current is not None and can_hold(s.participants.get(current)):
        return current
    candidates = sorted(
        (p for p in s.participants.values() if can_hold(p)),
        key=lambda p: (p.role is not Role.FACILITATOR, p.id),
    )
    return candidates[0].id if candidates else None


def check_grant(s: Session, to: str) -> Participant:
    """The recipient of a wrapped media key: an admitted participant of this session."""
    p = s.participants.get(to)
    if p is None:
        raise NotFound(f"no participant {to}")
    if p.status is not Status.ADMITTED:
        raise Conflict("media keys go only to admitted participants")
    return p


def counted_unable(s: Session, unable: Collection[str]) -> set[str]:
    """Those of ``unable`` (who said they cannot encrypt, or never said they take part) who are
    connected: only they hold the session back from encryption. One who dropped receives nothing
    while away, and says again what it can when it comes back."""
    return {pid for pid in unable if (p := s.participants.get(pid)) is not None and p.connected}


def clear_without_holder(s: Session, keyed: Collection[str], unable: Collection[str]) -> bool:
    """A ``preferred`` session whose facilitators present all cannot encrypt: nobody can hold the
    key, so media goes in the clear rather than not at all. With no facilitator present, or one
    whose public key is still on its way, the members wait for a key as usual."""
    if s.e2ee is not E2eeMode.PREFERRED:
        return False
    leads = s.leaders_present()
    return bool(leads) and all(p.id in unable and p.id not in keyed for p in leads)


def clear_recipients(s: Session, keyed: Collection[str]) -> set[str]:
    """Who is told to go in the clear when nobody can hold the key: the admitted, connected
    participants with a public key (a page that has its key pair, so acts on it; the unable send in
    the clear anyway)."""
    return {p.id for p in s.admitted() if p.connected and p.id in keyed}


def check_media(s: Session, pid: str, unable: Collection[str]) -> None:
    """Under ``required`` a client that cannot encrypt sends no media: it would be the one voice or
    picture the server could read, in a session promised to have none."""
    if s.e2ee is E2eeMode.REQUIRED and pid in unable:
        raise EncryptionRequired(
            "this session requires end-to-end encryption and this client cannot encrypt: its media is refused"
            " (a client that encrypts says so with auth {e2ee: true} and sends e2ee.key)"
        )
