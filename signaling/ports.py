"""Ports that the signaling layer owns and the server implements (the consumer owns the interface).

``signaling`` never imports aiortc or the server: it hands media work to a ``MediaGateway`` and learns
about media happenings through ``MediaEvents``. Tests use fakes of both; ``server.media`` implements them
with real aiortc peers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from rooms.model import MAIN, Session


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
    """What the forwarder may do in one session right now, derived from the session (``of``).

    ``members``: admitted participants; only they publish and receive. ``audible``: whose audio may be
    forwarded at all (forced mute, the main room's strict floor and a facilitator visiting a group to
    listen only are applied here). ``places``: where each member is (``"main"``, ``"side:<id>"``,
    ``"group:<n>"``); a member missing from it is in the main room, so a policy built without places
    means what it always meant.

    Who receives what is a function of these, per receiver (``rooms.places`` is the reference):
    receiver R gets publisher P's video when ``sees(R, P)`` (both members, R is not P, same place) and
    P's audio when ``hears(R, P)`` (same place and P in ``audible``); R in ``audio_only`` sees nobody.
    What the media engine must do:

    - Gate every (subscriber, publisher, kind) pair at the source, packet by packet, with these two
      functions, and apply a new policy from the next packet on: no renegotiation. The subscriber
      connection carries a track for every member who publishes, whatever their place; a move
      between places changes only which packets flow, never the offer.
    - A closed gate forwards nothing at all for that pair (no silence, no black frames), as the
      strict floor does; a packet of a member never reaches anyone outside their place, facilitators
      included (a facilitator visiting a group receives the group only while visiting).
    - When a video gate opens (R did not see P under the previous policy and does now), request a
      keyframe from P (PLI) and start forwarding that pair at the next keyframe, so the picture
      resumes at once and clean; rewrite sequence numbers and timestamps for R across the gap, as for
      any paused stream. Audio resumes on the next packet.
    - Speaking levels go on being reported for every member as now (``MediaEvents.speaking``): the
      signaling side delivers each level only to P's place and to the facilitators
      (``signaling.emits.speaking_emits``, from the session's places).
    """

    members: frozenset[str] = field(default_factory=frozenset)
    audible: frozenset[str] = field(default_factory=frozenset)
    # Never mutated once built; compared, but left out of the hash (a dict has none), so a policy
    # can still be hashed or kept in a set.
    places: Mapping[str, str] = field(default_factory=dict, hash=False)
    # Members who asked for audio only (a weak link, ``media.receive``): they are sent no video at all.
    audio_only: frozenset[str] = field(default_factory=frozenset)
    # The main room's floor holder, if any: a subscriber whose link cannot carry every video keeps
    # this one's first (``server.media.allocator``); without one, the loudest recent speaker's.
    floor: str | None = None

    @classmethod
    def of(cls, s: Session) -> ForwardingPolicy:
        """The policy for a session as it is now: admitted members, who is audible, where, and who
        takes audio only."""
        members = frozenset(p.id for p in s.admitted())
        audible = frozenset(pid for pid in members if s.audible(pid))
        places = {p.id: p.place for p in s.admitted() if p.place != MAIN}
        audio_only = frozenset(pid for pid in members if not s.receives_video(pid))
        floor = s.floor.holder if s.floor is not None and s.floor.holder in members else None
        return cls(members, audible, places, audio_only, floor)

    def place_of(self, participant_id: str) -> str:
        return self.places.get(participant_id, MAIN)

    def together(self, receiver_id: str, publisher_id: str) -> bool:
        """Both members, not the same person, and in the same place."""
        both = receiver_id in self.members and publisher_id in self.members
        return both and receiver_id != publisher_id and self.place_of(receiver_id) == self.place_of(publisher_id)

    def sees(self, receiver_id: str, publisher_id: str) -> bool:
        """Whether ``receiver_id`` gets ``publisher_id``'s video (never in audio-only mode)."""
        return receiver_id not in self.audio_only and self.together(receiver_id, publisher_id)

    def hears(self, receiver_id: str, publisher_id: str) -> bool:
        """Whether ``receiver_id`` gets ``publisher_id``'s audio."""
        return publisher_id in self.audible and self.together(receiver_id, publisher_id)


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

    async def video_paused(self, session_id: str, participant_id: str, paused: list[str], audio_only: bool) -> None:
        """What a participant's link can carry changed (``server.media.allocator``): the video of
        ``paused`` is not sent to them for now, to keep their audio clear; ``audio_only``: their link
        cannot carry any video at all now. Sent when either changes, and empty when all is back."""

    async def video_layers(self, session_id: str, participant_id: str, rids: list[str]) -> None:
        """A simulcast publisher is to send only these layers (RTP stream ids, lowest first) for now:
        nobody receives or could use the others (``server.media.sent_layers``). Sent when it changes."""


# The sizes a page shows another participant's video at (``media.view``): a small or hidden tile is
# sent a simulcast publisher's lowest layer, a large one the highest its link carries.
TILE_SIZES = ("large", "small", "hidden")


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

    async def set_view(self, session_id: str, participant_id: str, sizes: dict[str, str]) -> None:
        """The tile size (``TILE_SIZES``) the participant's page shows each other participant at."""

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

    async def set_view(self, session_id: str, participant_id: str, sizes: dict[str, str]) -> None:
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
