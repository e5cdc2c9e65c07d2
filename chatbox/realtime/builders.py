"""Building an app's presence store, event sequencer and event bus from configuration: in memory on a single
process, in Redis with REDIS_URL. Everything here is built per app: two apps in one process get two of
each (they share only the database connection)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import redis
import socketio

from chatbox.realtime.bus import EventBus, LocalBus, RedisBus
from chatbox.realtime.presence import MemoryPresence, PresenceStore
from chatbox.realtime.redis_presence import RedisPresence, redis_client
from chatbox.realtime.sequencer import Sequencer

if TYPE_CHECKING:
    pass

from chatbox.realtime.scale_out import REDIS_POOL_TIMEOUT_SECONDS


def build_presence(config: dict[str, Any]) -> PresenceStore:
    if config.get("REDIS_URL"):
        timeout = config["REDIS_TIMEOUT_MS"] / 1000
        client = redis_client(
            config["REDIS_URL"], config["REDIS_MAX_CONNECTIONS"], REDIS_POOL_TIMEOUT_SECONDS, socket_timeout=timeout
        )
        return RedisPresence(client, config["PRESENCE_TTL_SECONDS"])
    return MemoryPresence()


def build_sequencer(config: dict[str, Any], server: socketio.Server) -> Sequencer:
    """This process's sequencer: it sends each local socket its user's durable events, in order."""

    def emit(sid: str, event: str, args: tuple[Any, dict[str, int]]) -> None:
        # To this process's own socket only: the event reached every process already.
        server.emit(event, args, to=sid, ignore_queue=True)

    return Sequencer(
        emit,
        gap_seconds=config["EVENT_GAP_MS"] / 1000,
        check_seconds=config["EVENT_CHECK_SECONDS"],
        spawn=server.start_background_task,
    )


def build_event_bus(config: dict[str, Any], sequencer: Sequencer, server: socketio.Server) -> EventBus:
    if not config.get("REDIS_URL"):
        return LocalBus(sequencer)
    url, connections, timeout = config["REDIS_URL"], config["REDIS_MAX_CONNECTIONS"], config["REDIS_TIMEOUT_MS"] / 1000
    publisher = redis_client(url, connections, REDIS_POOL_TIMEOUT_SECONDS, socket_timeout=timeout)
    listener = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_keepalive=True)
    health = getattr(server.manager, "health", None)
    return RedisBus(publisher, sequencer, spawn=server.start_background_task, listener=listener, health=health)
