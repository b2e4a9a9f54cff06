"""End-to-end encryption's relay: public keys and wrapped media keys pass through, never read.

The one owner of what this node knows about a session's e2ee: each participant's public key (in
memory only: a node taking over hears them again on every welcome) and who holds the media key. The
rules (who may hold it, to whom a grant may go) are ``rooms.media_keys``; the hub dispatches
``e2ee.key`` and ``e2ee.grant`` here inside the session's actor, after checking the sender's role, and
tells the relay what happened in the session (someone left, anything else that may change the holder),
so every change of these keys goes through this module and is announced by it (``e2ee.keys``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from rooms.errors import Conflict
from rooms.media_keys import check_grant, key_holder
from rooms.model import Session
from signaling.emits import Emit, leads_room, participant_room

Jwk = dict[str, str]
Send = Callable[[list[Emit]], Awaitable[None]]


@dataclass
class SessionKeys:
    """One live session's e2ee keys on this node."""

    # Each participant's public key JWK; None: they said their browser cannot encrypt.
    public: dict[str, Jwk | None] = field(default_factory=dict)
    holder: str | None = None  # the facilitator who distributes the media key

    def keyed(self) -> set[str]:
        """Who shared a public key (not those whose browser cannot encrypt)."""
        return {pid for pid, jwk in self.public.items() if jwk is not None}


class KeyRelay:
    """Keeps each session's public keys and key holder, relays grants, announces every change.

    Every method runs inside the session's actor (the hub calls it there), so the keys of a session
    change in the same order as the session does.
    """

    def __init__(self, send: Send) -> None:
        self._send = send

    async def share(self, s: Session, keys: SessionKeys, pid: str, jwk: Jwk | None) -> None:
        """A participant's public key (or that its browser cannot encrypt), sent to the facilitators,
        whose key holder wraps the media key for it once it is admitted."""
        keys.public[pid] = jwk
        await self._announce(s, keys, sender=pid)

    async def grant(
        self, s: Session, keys: SessionKeys, pid: str, key_id: int, grants: list[tuple[str, str | None]]
    ) -> None:
        """Relay a media key wrapped for each recipient: all of them admitted participants of the
        sender's session, checked before any is sent (one refusal sends nothing)."""
        sender_key = keys.public.get(pid)
        if sender_key is None:
            raise Conflict("send your public key (e2ee.key) before granting media keys")
        for to, _ in grants:
            check_grant(s, to)
        await self._send(
            [
                Emit(
                    "e2ee.grant",
                    {"from": pid, "from_key": sender_key, "key_id": key_id, "wrapped": wrapped},
                    participant_room(s.id, to),
                )
                for to, wrapped in grants
            ]
        )

    async def forget(self, s: Session, keys: SessionKeys, pid: str) -> None:
        """``pid`` left or was removed: their key is dropped (a returning participant sends it again)."""
        if pid in keys.public:
            del keys.public[pid]
            await self._announce(s, keys)

    async def follow_holder(self, s: Session, keys: SessionKeys) -> None:
        """After any change of the session: a new key holder (the last one left or dropped) is told
        through ``e2ee.keys``."""
        if key_holder(s, keys.keyed(), keys.holder) != keys.holder:
            await self._announce(s, keys)

    async def _announce(self, s: Session, keys: SessionKeys, sender: str | None = None) -> None:
        """``sender``: whose key just came (again): after a reconnection they may have missed a grant."""
        keys.holder = key_holder(s, keys.keyed(), keys.holder)
        announce = {"holder": keys.holder, "keys": dict(keys.public), "from": sender}
        await self._send([Emit("e2ee.keys", announce, leads_room(s.id))])
