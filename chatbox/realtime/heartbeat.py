"""The presence heartbeat of a process running with REDIS_URL."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis

from chatbox.realtime.redis_presence import RedisPresence
from chatbox.redis_health import RedisHealth

if TYPE_CHECKING:
    pass


log = logging.getLogger("chatbox.realtime")


class PresenceHeartbeat:
    """Keeps this process's presence alive in Redis and cleans up after processes that died.

    Every `interval` seconds (a third of the TTL): refresh this node's key, then reap dead nodes
    and call `on_offline(user_id)` for each user that a dead node left offline. After a failed beat,
    or as soon as `health` has seen Redis fail, it beats every `RETRY_SECONDS` until a beat succeeds:
    a Redis that restarted empty gets this node's sockets and views back at once.
    """

    RETRY_SECONDS = 1.0

    def __init__(
        self,
        presence: RedisPresence,
        interval: float,
        on_offline: Callable[[str], None],
        spawn: Callable[..., Any],
        health: RedisHealth | None = None,
    ) -> None:
        self.presence = presence
        self.interval = interval
        self.on_offline = on_offline
        self._spawn = spawn
        self._stop = threading.Event()
        self.health = health
        self.beats = 0

    def _outages(self) -> int:
        return self.health.outages if self.health is not None else 0

    def start(self) -> PresenceHeartbeat:
        self._spawn(self.run)
        return self

    def beat(self) -> None:
        self.presence.refresh()
        for user_id in self.presence.reap_dead_nodes():
            try:
                self.on_offline(user_id)
            except Exception:
                log.exception("could not announce that %s went offline", user_id)
        self.beats += 1

    def run(self) -> None:
        while not self._stop.is_set():
            outages = self._outages()
            try:
                self.beat()
                wait = self.interval
            except redis.RedisError as exc:
                log.error("presence heartbeat failed: Redis unavailable (%s); retrying", type(exc).__name__)
                wait = min(self.interval, self.RETRY_SECONDS)
            except Exception:
                log.exception("presence heartbeat failed; retrying")
                wait = min(self.interval, self.RETRY_SECONDS)
            deadline = time.monotonic() + wait
            while not self._stop.is_set() and self._outages() == outages:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._stop.wait(min(left, self.RETRY_SECONDS))

    def stop(self, unregister: bool = False) -> None:
        """Stop refreshing; with `unregister`, drop this node's key so the others reap it at once."""
        self._stop.set()
        if unregister:
            try:
                self.presence.shutdown()
            except redis.RedisError:
                log.exception("could not unregister this node's presence")
