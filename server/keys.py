"""Typed aiohttp application keys: the process's shared objects, one owner each."""

from __future__ import annotations

import socketio
from aiohttp import web

from server.auth import Tokens
from server.config import Settings
from server.metrics import Metrics
from signaling.hub import Hub
from signaling.limits import RateLimiter
from signaling.ports import MediaGateway
from signaling.store import SessionStore

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", SessionStore)
TOKENS = web.AppKey("tokens", Tokens)
HUB = web.AppKey("hub", Hub)
MEDIA = web.AppKey("media", MediaGateway)
METRICS = web.AppKey("metrics", Metrics)
SIO = web.AppKey("sio", socketio.AsyncServer)
FAILED_CREDENTIALS = web.AppKey("failed_credentials", RateLimiter)  # per client address
