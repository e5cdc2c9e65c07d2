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
