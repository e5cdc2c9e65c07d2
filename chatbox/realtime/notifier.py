"""Sends server events to users' rooms through the Socket.IO server (and its queue, when scaled out)."""

from __future__ import annotations

from typing import Any

import socketio


def user_room(user_id: str) -> str:
    return f"user:{user_id}"


class Notifier:
    def __init__(self, server: socketio.Server) -> None:
        self.server = server

    def to_user(self, user_id: Any, event: str, data: Any, skip_sid: str | None = None) -> None:
        self.server.emit(event, data, to=user_room(str(user_id)), skip_sid=skip_sid)

    def ensure_deliverable(self) -> None:
        """Raise QueueUnavailable (503) when events cannot go out now: REDIS_URL is set and Redis is
        known to be unreachable (chatbox/redis_health.py). A no-op on a single process."""
        health = getattr(self.server.manager, "health", None)
        if health is not None:
            health.ensure_available()
