"""End-to-end encryption's relay: public keys and wrapped media keys pass through, never read.

The one owner of what this node knows about a session's e2ee: each participant's public key (in
memory only: a node taking over hears them again on every welcome), who cannot encrypt, and who holds
the media key. The rules (who may hold it, to whom a grant may go, when media goes in the clear, who
may send media) are ``rooms.media_keys``; the hub dispatches ``e2ee.key`` and ``e2ee.grant`` here
inside the session's actor, after checking the sender's role, tells the relay who was seated and
whether that client speaks e2ee (``auth: {e2ee: true}``), and what happened in the session (someone
left, anything else that may change the holder), so every change of these keys goes through this
module and is announced by it (``e2ee.keys`` to the facilitators, ``e2ee.clear`` to members when
nobody present can hold the key).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from rooms.errors import Conflict
from rooms.media_keys import (
    check_grant,
    check_media,
    clear_recipients,
    clear_without_holder,
    counted_unable,
    key_holder,
)
from rooms.model import Session
from signaling.emits import Emit, leads_room, participant_room

Jwk = dict[str, str]
Send = Callable[[list[Emit]], Awaitable[None]]

NO_KEY_HOLDER = "no_key_holder"  # e2ee.clear's reason: no facilitator present can hold the media key


@dataclass
class SessionKeys:
    """One live session's e2ee keys on this node."""

    # Each participant's public key JWK; None: they said their client cannot encrypt, or never said
    # they take part in e2ee at all (``silent``).
    public: dict[str, Jwk | None] = field(default_factory=dict)
    # Seated without saying they speak e2ee, and no ``e2ee.key`` since: counted as unable to encrypt
    # (an outside client). A later connection that says it speaks e2ee is waited for instead.
    silent: set[str] = field(default_factory=set)
    holder: str | None = None  # the facilitator who distributes the media key
    shown: dict[str, Any] = field(default_factory=lambda: {"holder": None, "keys": {}})  # the last e2ee.keys
    told_clear: set[str] = field(default_factory=set)  # told e2ee.clear since nobody could hold the key

    def keyed(self) -> set[str]:
        """Who shared a public key (not those whose client cannot encrypt)."""
        return {pid for pid, jwk in self.public.items() if jwk is not None}

    def unable(self) -> set[str]:
        """Who cannot encrypt: said so, or never said they take part."""
        return {pid for pid, jwk in self.public.items() if jwk is None}


class KeyRelay:
    """Keeps each session's public keys and key holder, relays grants, announces every change.

    Every method runs inside the session's actor (the hub calls it there), so the keys of a session
    change in the same order as the session does.
    """

    def __init__(self, send: Send) -> None:
        self._send = send

    async def seated(self, s: Session, keys: SessionKeys, pid: str, speaks_e2ee: bool) -> None:
        """A connection of ``pid`` was welcomed. One that did not say it speaks e2ee counts as unable
        to encrypt from now on (until it sends a public key); one that did is waited for (its
        ``e2ee.key`` follows), even if an earlier connection of the same participant was silent."""
        if speaks_e2ee:
            if pid in keys.silent:
                keys.silent.discard(pid)
                del keys.public[pid]
        else:
            keys.public[pid] = None
            keys.silent.add(pid)
        await self._settle(s, keys)

    async def share(self, s: Session, keys: SessionKeys, pid: str, jwk: Jwk | None) -> None:
        """A participant's public key (or that its client cannot encrypt), sent to the facilitators,
        whose key holder wraps the media key for it once it is admitted."""
        keys.public[pid] = jwk
        keys.silent.discard(pid)
        keys.told_clear.discard(pid)  # a page sends its key on each welcome: a reloaded one starts waiting
        await self._settle(s, keys, sender=pid)

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

    def check_media(self, s: Session, keys: SessionKeys, pid: str) -> None:
        """Before ``pid``'s media is taken: under ``required``, refused if its client cannot encrypt."""
        check_media(s, pid, keys.unable())

    async def forget(self, s: Session, keys: SessionKeys, pid: str) -> None:
        """``pid`` left or was removed: their key is dropped (a returning participant sends it again)."""
        keys.public.pop(pid, None)
        keys.silent.discard(pid)
        keys.told_clear.discard(pid)
        await self._settle(s, keys)

    async def follow_holder(self, s: Session, keys: SessionKeys) -> None:
        """After any change of the session: a new key holder (the last one left or dropped), someone
        unable to encrypt arriving or dropping, or nobody left who can hold the key, is told."""
        await self._settle(s, keys)

    async def _settle(self, s: Session, keys: SessionKeys, sender: str | None = None) -> None:
        """Announce what changed. ``sender``: whose key just came (again), always announced: after a
        reconnection they may have missed a grant."""
        keyed, unable = keys.keyed(), keys.unable()
        keys.holder = key_holder(s, keyed, keys.holder)
        counted = counted_unable(s, unable)
        shown = {
            "holder": keys.holder,
            "keys": {pid: jwk for pid, jwk in keys.public.items() if jwk is not None or pid in counted},
        }
        emits: list[Emit] = []
        if shown != keys.shown or sender is not None:
            keys.shown = shown
            emits.append(Emit("e2ee.keys", {**shown, "from": sender}, leads_room(s.id)))
        if clear_without_holder(s, keyed, counted):
            recipients = clear_recipients(s, keyed)
            fresh = sorted(recipients - keys.told_clear)
            keys.told_clear = recipients  # one who drops is told again when back
            emits += [Emit("e2ee.clear", {"reason": NO_KEY_HOLDER}, participant_room(s.id, pid)) for pid in fresh]
        else:
            keys.told_clear = set()  # a holder takes over (its grants decide), or the members wait
        if emits:
            await self._send(emits)
