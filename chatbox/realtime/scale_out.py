"""Running several processes: python-socketio's Redis manager made to wait for a pooled connection and to
fail fast while Redis is down, the queue's health, and the start of the scale-out background work."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis
import socketio
from greenlet import GreenletExit

from chatbox.realtime.bus import RedisBus
from chatbox.realtime.redis_presence import RedisPresence, redis_client
from chatbox.redis_health import OutageLog, RedisHealth
from chatbox.users import actions as user_actions

if TYPE_CHECKING:
    from flask import Flask

    from chatbox.runtime import Runtime

from chatbox.realtime.heartbeat import PresenceHeartbeat

log = logging.getLogger("chatbox.realtime")

QUEUE_CHANNEL = "chatbox-socketio"
REDIS_POOL_TIMEOUT_SECONDS = 10.0
HEARTBEAT_KEY = "chatbox.heartbeat"
# The app's event bus (chatbox/realtime/bus.py), set by the factory; started here with REDIS_URL.
EVENT_BUS_KEY = "chatbox.event_bus"


class QueueManager(socketio.RedisManager):
    """python-socketio's Redis manager with a pool that waits for a connection instead of failing, and
    that fails fast and says so when Redis is unreachable.

    The stock manager builds `redis.Redis.from_url(url)`, whose pool holds at most 100 connections:
    past 100 concurrent emits redis-py raises "Too many connections", the manager reconnects and
    messages are lost (shared/FINDINGS.md). A `BlockingConnectionPool` of `max_connections` makes
    an emit beyond the cap wait its turn for up to `pool_timeout` seconds.

    The stock manager also logs a failed publish and returns as if the event had gone out, after
    waiting for Redis as long as the connection lets it. Here a publish waits at most `timeout`
    seconds, is refused at once while `health` knows Redis is down, and raises `QueueUnavailable`
    (503 `queue_unavailable`) instead of dropping the event silently. The listener reconnects every
    `LISTEN_RETRY_SECONDS` at most (the stock one backs off up to a minute), so a process recovers
    soon after Redis returns; its connection has no read timeout, since it waits for events.
    """

    LISTEN_RETRY_SECONDS = 1.0
    # A message of ChatBox's own on the same channel: "the sessions of this user changed" (a logout, a
    # password change, an administrator's action, a profile or block change). python-socketio's
    # listener ignores methods it does not know; `_listen` hands these to `on_sessions_changed`.
    SESSIONS_METHOD = "chatbox-sessions-changed"
    _SESSIONS_MARK = b'"chatbox-sessions-changed"'

    def __init__(
        self,
        url: str,
        max_connections: int,
        health: RedisHealth,
        timeout: float,
        pool_timeout: float = REDIS_POOL_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(url, channel=QUEUE_CHANNEL, redis_options={"max_connections": max_connections})
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        self.health = health
        self.timeout = timeout
        # Set by the app's SessionGuard: (user id, whether to re-check its sockets) for each change
        # another process announced; and whether this process hears the channel now (False when the
        # listener lost Redis: announcements made meanwhile are missed).
        self.on_sessions_changed: Callable[[str, bool], None] | None = None
        self.on_listening: Callable[[bool], None] | None = None
        self.stopped = False

    def announce_sessions_changed(self, user_id: str, recheck: bool) -> None:
        """Tell every other process on the channel (raises QueueUnavailable when Redis is down)."""
        self._publish({"method": self.SESSIONS_METHOD, "user_id": user_id, "recheck": recheck, "host_id": self.host_id})

    def _listen(self) -> Any:
        for data in super()._listen():
            # Cheap test first: an emit's payload may contain the mark too, and is then passed on.
            if not (isinstance(data, bytes) and self._SESSIONS_MARK in data and self._sessions_changed(data)):
                yield data

    def _sessions_changed(self, data: bytes) -> bool:
        """Handle `data` if it is a sessions-changed message; False if it is something else."""
        try:
            message = json.loads(data)
        except ValueError:
            return False
        if not isinstance(message, dict) or message.get("method") != self.SESSIONS_METHOD:
            return False
        try:
            if message.get("host_id") != self.host_id and self.on_sessions_changed is not None:
                self.on_sessions_changed(str(message["user_id"]), bool(message.get("recheck")))
        except Exception:
            log.exception("could not handle a sessions-changed message")
        return True

    def _listening(self, listening: bool) -> None:
        if self.on_listening is not None:
            self.on_listening(listening)

    def _redis_connect(self) -> None:
        if "+sentinel" in self.redis_url:  # pragma: no cover - sentinel keeps the stock behaviour
            super()._redis_connect()
            return
        # A publish beyond the pool's cap still waits its turn (pool_timeout); what is bounded is the
        # wait for Redis itself, so that a Redis that stopped answering is noticed at once.
        self.redis = redis_client(self.redis_url, self.max_connections, self.pool_timeout, socket_timeout=self.timeout)
        listener = redis.Redis.from_url(self.redis_url, socket_connect_timeout=self.timeout, socket_keepalive=True)
        self.pubsub = listener.pubsub(ignore_subscribe_messages=True)
        self.connected = True

    def _publish(self, data: Any) -> Any:
        self.health.ensure_available()
        try:
            if not self.connected:
                self._redis_connect()
            return self.redis.publish(self.channel, self.json.dumps(data))
        except (redis.RedisError, OSError) as exc:
            self.connected = False
            raise self.health.failed(exc) from exc

    def _redis_listen_with_retries(self) -> Any:
        subscribed = False
        outage = OutageLog(
            log,
            lost="Socket.IO queue listener lost Redis (%s); retrying every %s s",
            again="Socket.IO queue listener: Redis still unreachable (%s)",
            back="Socket.IO queue listener is back after %d failed attempt(s)",
        )
        while True:
            if self.stopped:
                # The end of the task. Not a return: python-socketio's `_listen` would then unsubscribe
                # (which fails while Redis is down) and its `_thread` would start over at once, in a loop.
                raise GreenletExit
            try:
                if not subscribed:
                    self._redis_connect()
                    self.pubsub.subscribe(self.channel)
                    subscribed = True
                    outage.recovered()
                    self._listening(True)
                yield from self.pubsub.listen()
            except Exception as exc:
                if self.stopped:
                    raise GreenletExit from exc  # stopped: the end of this task, as above
                outage.failed(type(exc).__name__, self.LISTEN_RETRY_SECONDS)
                subscribed = False
                self._listening(False)
                time.sleep(self.LISTEN_RETRY_SECONDS)

    def stop(self) -> None:
        """End the listener (Runtime.stop): a stopped app must not keep retrying a Redis that went away
        with it. python-socketio's listener has no stop of its own. Closing the subscription wakes the
        task wherever it waits (a killed greenlet is not enough: redis-py's clean-up after the kill
        raises an error of its own in place of GreenletExit); a task asleep between retries ends when
        it wakes."""
        self.stopped = True
        pubsub = getattr(self, "pubsub", None)
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:  # closing a broken connection may fail too; we are leaving anyway
                log.debug("closing the queue subscription failed", exc_info=True)


def build_redis_health(config: dict[str, Any]) -> RedisHealth | None:
    if not config.get("REDIS_URL"):
        return None
    return RedisHealth(config["REDIS_URL"], config["REDIS_TIMEOUT_MS"] / 1000)


def queue_status(health: RedisHealth | None) -> str:
    """ "disabled" on a single process; otherwise whether Redis answers now."""
    if health is None:
        return "disabled"
    return "ok" if health.probe() else "error"


def start_scale_out(app: Flask, server: socketio.Server, rt: Runtime) -> PresenceHeartbeat | None:
    """With REDIS_URL: subscribe to the queue now and start the presence heartbeat, both as background
    tasks of this app's Socket.IO server. Without it: nothing to do.

    python-socketio subscribes its manager on the first connection to this process; until then, events
    that other processes publish for this one's future clients would be missed, so subscribe at once.
    """
    manager = server.manager
    if isinstance(manager, QueueManager) and not server.manager_initialized:
        from gevent.monkey import is_module_patched

        if is_module_patched("socket"):
            server.manager_initialized = True
            manager.initialize()
    bus = app.extensions[EVENT_BUS_KEY]
    if isinstance(bus, RedisBus):
        from gevent.monkey import is_module_patched

        # Durable events from every process, this one's included (a blocking read needs gevent's sockets).
        if is_module_patched("socket"):
            bus.start()
    presence = rt.presence
    if not isinstance(presence, RedisPresence):
        return None
    heartbeat = PresenceHeartbeat(
        presence,
        interval=presence.ttl_seconds / 3,
        on_offline=lambda user_id: user_actions.went_offline(rt, user_id),
        spawn=server.start_background_task,
        health=manager.health if isinstance(manager, QueueManager) else None,
    )
    app.extensions[HEARTBEAT_KEY] = heartbeat
    return heartbeat.start()
