"""Ports that the signaling layer owns and the server implements (the consumer owns the interface).

``signaling`` never imports aiortc or the server: it hands media work to a ``MediaGateway`` and learns
about media happenings through ``MediaEvents``. Tests use fakes of both; ``server.media`` implements them
with real aiortc peers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class MediaError(Exception):
    """The media layer refused a request (bad SDP, stale revision, too many connections).

    ``code`` is one of the wire error codes (``invalid``, ``conflict``, ``not_found``, ``rate_limited``).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ForwardingPolicy:
    """What the forwarder may do in one session right now, derived from the session by the controller.

    ``members``: admitted participants; only they publish and receive. ``audible``: whose audio is
    forwarded (strict floor and forced mutes are applied here). Video of every member keeps flowing.
    """

    members: frozenset[str] = field(default_factory=frozenset)
    audible: frozenset[str] = field(default_factory=frozenset)


class MediaEvents(Protocol):
    """Callbacks from the media layer up to signaling."""

    async def send_offer(self, session_id: str, participant_id: str, sdp: str, revision: int) -> None:
        """Deliver the server's subscriber offer (``rtc.offer``) to one participant."""

    async def speaking(self, session_id: str, levels: dict[str, float], active: str | None) -> None:
        """Deliver audio levels (0..1, from RFC 6464 header extensions) for one session."""

    async def connection_lost(self, session_id: str, participant_id: str, leg: str) -> None:
        """One of a participant's connections died: closed by the far end, DTLS closed, ICE failed or
        consent lost. ``leg`` is "publish" or "receive"; the engine has already torn it down (a lost
        publisher's tracks are gone from everyone's receiving connection) or will replace it (a lost
        receiving connection gets a fresh offer)."""


class MediaGateway(Protocol):
    """Media operations the signaling layer needs, implemented by ``server.media``."""

    def ice_servers(self) -> list[dict[str, Any]]:
        """ICE servers that clients must use (the operator's STUN/TURN), as RTCIceServer dicts."""

    async def publish(self, session_id: str, participant_id: str, sdp: str) -> str:
        """Answer a participant's publisher offer; returns the answer SDP. Raises ``MediaError``."""

    async def answer(self, session_id: str, participant_id: str, sdp: str, revision: int) -> None:
        """Apply a participant's answer to the server's subscriber offer; stale revisions raise."""

    async def subscribe(self, session_id: str, participant_id: str) -> None:
        """Start a participant's receiving connection afresh (a new offer), e.g. after a reconnect."""

    async def set_policy(self, session_id: str, policy: ForwardingPolicy) -> None:
        """Apply who receives and whose audio is forwarded; tears down non-members' connections."""

    async def close_participant(self, session_id: str, participant_id: str) -> None:
        """Close a participant's connections and forwarding (leave, removal, disconnect)."""

    async def close_session(self, session_id: str) -> None:
        """Close every connection of a session."""

    def take_spoke_seconds(self, session_id: str) -> dict[str, float]:
        """Speaking seconds accumulated since the last call, per participant (durations only)."""


class NullMedia:
    """A gateway for signaling-only deployments and tests: refuses media, forwards nothing."""

    def ice_servers(self) -> list[dict[str, Any]]:
        return []

    async def publish(self, session_id: str, participant_id: str, sdp: str) -> str:
        raise MediaError("conflict", "media is not enabled on this node")

    async def answer(self, session_id: str, participant_id: str, sdp: str, revision: int) -> None:
        raise MediaError("conflict", "media is not enabled on this node")

    async def subscribe(self, session_id: str, participant_id: str) -> None:
        return None

    async def set_policy(self, session_id: str, policy: ForwardingPolicy) -> None:
        return None

    async def close_participant(self, session_id: str, participant_id: str) -> None:
        return None

    async def close_session(self, session_id: str) -> None:
        return None

    def take_spoke_seconds(self, session_id: str) -> dict[str, float]:
        return {}


@dataclass(frozen=True)
class Claims:
    """What a verified join token says: who this is, in which session, with which role."""

    session_id: str
    participant_id: str
    name: str
    role: str


class Unauthorized(Exception):
    """A join token is missing, malformed, forged, expired or revoked."""


class Moved(Exception):
    """Another node holds this session; the client must connect to ``url``."""

    def __init__(self, url: str) -> None:
        super().__init__(f"this session is held by {url}")
        self.url = url


class Authenticator(Protocol):
    def verify(self, token: str) -> Claims:
        """Return the token's claims, or raise ``Unauthorized`` (revocation is checked separately)."""


@dataclass(frozen=True)
class NodeInfo:
    """This node's identity in a multi-node deployment, and the URL clients reach it at."""

    node_id: str
    url: str
