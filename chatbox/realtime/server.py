"""Options for the Socket.IO server and the presence store, chosen from configuration."""

from __future__ import annotations

import json
from typing import Any

from chatbox.realtime.presence import MemoryPresence, PresenceStore


def socketio_options(config: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {
        "async_mode": "gevent",
        "cors_allowed_origins": config["CLIENT_URLS"],
        "cors_credentials": True,
        "json": json,
        "max_http_buffer_size": config["MAX_JSON_BYTES"],
        "logger": False,
        "engineio_logger": False,
    }
    return options


def build_presence(config: dict[str, Any]) -> PresenceStore:
    return MemoryPresence()


def queue_status(config: dict[str, Any]) -> str:
    """ "disabled" on a single process; otherwise whether Redis answers."""
    if not config["REDIS_URL"]:
        return "disabled"
    import redis

    try:
        redis.Redis.from_url(config["REDIS_URL"], socket_timeout=2).ping()
        return "ok"
    except redis.RedisError:
        return "error"
