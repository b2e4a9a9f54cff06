"""Who hands out the session's media key, and to whom it may go: the rules of end-to-end encryption.

The key itself is made in a facilitator's browser and reaches each admitted participant wrapped to
that participant's own public key; the server only relays public keys and ciphertext. What the
server decides is who distributes (the key holder) and whether a grant may be relayed at all: only a
facilitator or co-facilitator sends grants, and only to admitted participants of their own session
(a waiting, denied, removed or departed member never receives one).
"""

from __future__ import annotations

from collections.abc import Collection

from rooms.errors import Conflict, NotFound
from rooms.model import Participant, Role, Session, Status


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
