"""Per-app services, built by the factory: two apps in one process share nothing but the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app
from flask_bcrypt import Bcrypt

from chatbox.ratelimit import RateLimiter

if TYPE_CHECKING:
    from chatbox.files.storage import FileStorage
    from chatbox.messages.chat_ids import ChatIdCache
    from chatbox.push.service import PushService
    from chatbox.realtime.notifier import Notifier
    from chatbox.realtime.presence import PresenceStore
    from chatbox.realtime.sequencer import Sequencer
    from chatbox.realtime.server import UnclaimedConnectionCloser
    from chatbox.realtime.sessions import SessionGuard


@dataclass
class Runtime:
    config: dict[str, Any]
    bcrypt: Bcrypt
    limiter: RateLimiter
    storage: FileStorage
    presence: PresenceStore
    notifier: Notifier
    push: PushService
    sessions: SessionGuard
    unclaimed_connections: UnclaimedConnectionCloser
    sequencer: Sequencer
    chat_ids: ChatIdCache


EXTENSION_KEY = "chatbox"
# The app's RedisHealth (None without REDIS_URL): /healthz reports it.
REDIS_HEALTH_KEY = "chatbox.redis_health"


def runtime() -> Runtime:
    """The running app's services (inside a request or app context)."""
    return current_app.extensions[EXTENSION_KEY]
