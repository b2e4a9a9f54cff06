"""What the hub keeps of each session it holds, and the hub's settings (one place for their defaults:
``server/config.py`` imports them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rooms.model import Role, Session, Status
from signaling.actor import Mailbox
from signaling.key_relay import SessionKeys
from signaling.ports import ForwardingPolicy
from signaling.store import DEFAULT_ENDED_TTL

DEFAULT_LEASE_TTL = 3.0  # seconds a session lease lasts unrenewed (renewed every third of it)
DEFAULT_MAX_SESSIONS = 200  # live sessions one node holds at most
DEFAULT_STOP_TIMEOUT = 6.0  # seconds the sessions' graceful stop may take


@dataclass
class HubSettings:
    lease_ttl: float = DEFAULT_LEASE_TTL
    revoke_ttl: float = 7 * 24 * 3600.0
    ended_ttl: float = DEFAULT_ENDED_TTL
    audit_ttl: float = 30 * 24 * 3600.0
    idle_release_seconds: float = 600.0
    max_sessions: int = DEFAULT_MAX_SESSIONS
    stop_timeout: float = DEFAULT_STOP_TIMEOUT
    # Speaking time is kept in memory and recorded (saved, and sent to facilitators) at most this
    # often, and with every change of state; a failover loses at most this much of it, nothing else.
    speaking_record_seconds: float = 5.0
    job_timeout: float = 15.0  # a session job that runs longer is abandoned: the session goes on
    media_job_timeout: float = 20.0


@dataclass
class Live:
    """A session held by this node: the authoritative copy while the lease is ours."""

    session: Session
    saved_version: int
    actor: Mailbox
    media: Mailbox
    sockets: dict[str, str] = field(default_factory=dict)  # participant id -> socket id
    # socket id -> (its audience room, the participant's (status, role, place) that room was chosen for)
    placed: dict[str, tuple[str | None, tuple[Status, Role, str] | None]] = field(default_factory=dict)
    policy: ForwardingPolicy | None = None
    dirty: bool = False
    last_active: float = 0.0
    tick_posted: bool = False
    speaking: dict[str, float] = field(default_factory=dict)  # seconds measured, not recorded yet
    speaking_recorded_at: float = 0.0
    writing_back: bool = False
    # End-to-end encryption's public keys and key holder, in memory only (``signaling.key_relay``).
    keys: SessionKeys = field(default_factory=SessionKeys)
