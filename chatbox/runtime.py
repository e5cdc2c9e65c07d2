"""Per-app services, built by the factory: two apps in one process share nothing but the database.

Typed against the interfaces in chatbox/services.py, never against the transport's classes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import current_app
from flask_bcrypt import Bcrypt

from chatbox.ratelimit import RateLimiter

if TYPE_CHECKING:
    from chatbox.files.storage import FileStorage
    from chatbox.messages.chat_ids import ChatIdCache
    from chatbox.push.delivery import PushService
    from chatbox.services import (
        ConnectionWatcher,
        EventSink,
        PresenceStore,
        SessionChecks,
        Stoppable,
        StreamSequencer,
    )


@dataclass
class Runtime:
    config: dict[str, Any]
    bcrypt: Bcrypt
    limiter: RateLimiter
    storage: FileStorage
    presence: PresenceStore
    notifier: EventSink
    push: PushService
    sessions: SessionChecks
    unclaimed_connections: ConnectionWatcher
    sequencer: StreamSequencer
    chat_ids: ChatIdCache
    # What runs beside the requests: scale-out's event bus and presence heartbeat, the embedded
    # database's sweep of expired events.
    background: list[Stoppable] = field(default_factory=list)

    def stop(self) -> None:
        """End this app's background work: the session sweep, the event stream's check and sockets, and
        what scale-out started. Gunicorn's worker exit, the chaos kit and the tests call it."""
        for task in (self.sessions, self.sequencer, *self.background):
            task.stop()


EXTENSION_KEY = "chatbox"
# The app's RedisHealth (None without REDIS_URL): /healthz reports it.
REDIS_HEALTH_KEY = "chatbox.redis_health"


def runtime() -> Runtime:
    """The running app's services (inside a request or app context)."""
    return current_app.extensions[EXTENSION_KEY]
