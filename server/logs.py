"""JSON logs that carry ids, never names or notes.

Only a fixed set of ``extra`` fields is written (ids, codes, counts): a display name or a note's text
passed by mistake is dropped, not logged.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

SAFE_FIELDS = (
    "session",
    "participant",
    "node",
    "sid",
    "event",
    "code",
    "status",
    "method",
    "path",
    "ms",
    "count",
    "peer",
    "mailbox",
    "leg",
    "error",
    "worker",  # a media worker's slot number (server/media/workers)
    "pid",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": round(time.time(), 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        for name in SAFE_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


def setup(json_logs: bool, level: str = "info") -> None:
    """Log to stderr, JSON or text, from ``level`` (a ``Settings.log_level``) up; the libraries'
    chatter from warnings up."""
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aioice", "aiortc", "engineio", "socketio", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
