"""Options for the Socket.IO server and the presence store, chosen from configuration."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chatbox.realtime.presence import MemoryPresence, PresenceStore


def socketio_options(config: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {
        "async_mode": "gevent",
        "cors_allowed_origins": allowed_origin_checker(config["CLIENT_URLS"]),
        "cors_credentials": True,
        "json": json,
        "max_http_buffer_size": config["MAX_JSON_BYTES"],
        "logger": False,
        "engineio_logger": False,
    }
    return options


def allowed_origin_checker(client_urls: list[str]) -> Callable[[str | None, dict[str, Any]], bool]:
    """CLIENT_URL origins, plus the server's own origin (the bundled web client, and clients such as
    websocket libraries that send the server's URL as Origin)."""
    allowed = {url.rstrip("/") for url in client_urls}

    def check(origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None or origin.rstrip("/") in allowed:
            return True
        host = environ.get("HTTP_X_FORWARDED_HOST") or environ.get("HTTP_HOST", "")
        scheme = environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme", "http")
        return origin.rstrip("/") == f"{scheme.split(',')[0].strip()}://{host.split(',')[0].strip()}"

    return check


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
