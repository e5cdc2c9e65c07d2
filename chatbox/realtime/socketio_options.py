"""The Socket.IO server's options, chosen from configuration: the origin check, payload and ping limits,
and (with REDIS_URL) the Redis client manager."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chatbox.origins import OriginPolicy
from chatbox.redis_health import RedisHealth

if TYPE_CHECKING:
    pass

from chatbox.realtime.scale_out import QueueManager


def socketio_options(config: dict[str, Any], health: RedisHealth | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {
        "async_mode": "gevent",
        # Each client's events run one after another in its connection's own greenlet: messages a
        # client sends without waiting for acks are stored (and numbered) in the order sent, whatever
        # the database's latency; other clients are unaffected, and no greenlet is spawned per event.
        "async_handlers": False,
        # CLIENT_URL origins, plus the server's own origin (the bundled web client, and clients such as
        # websocket libraries that send the server's URL as Origin).
        "cors_allowed_origins": OriginPolicy(config["CLIENT_URLS"], config["PROXY_FIX_HOPS"]).socketio_check,
        "cors_credentials": True,
        "json": json,
        "max_http_buffer_size": config["MAX_JSON_BYTES"],
        "ping_interval": config["SOCKET_PING_INTERVAL_SECONDS"],
        "ping_timeout": config["SOCKET_PING_TIMEOUT_SECONDS"],
        "logger": False,
        "engineio_logger": False,
    }
    if health is not None:
        options["client_manager"] = QueueManager(
            config["REDIS_URL"], config["REDIS_MAX_CONNECTIONS"], health, config["REDIS_TIMEOUT_MS"] / 1000
        )
    return options
