"""How a stored durable event reaches the sequencer of every process (each delivers to its own sockets).

One process: straight to its sequencer. Several (REDIS_URL): a Redis pub/sub channel of its own, which
every process, the producer included, listens to; a process that loses the channel for a while gets what
it missed from the stored stream (the sequencer's periodic check, at once after resubscribing).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Protocol

import gevent
import redis

from chatbox.realtime.sequencer import Delivery, Sequencer
from chatbox.redis_health import OutageLog, RedisHealth

log = logging.getLogger("chatbox.realtime")

EVENTS_CHANNEL = "chatbox-events"
RESUBSCRIBE_SECONDS = 1.0


class EventBus(Protocol):
    def publish(self, deliveries: list[Delivery]) -> None: ...

    def stop(self) -> None: ...


class LocalBus:
    def __init__(self, sequencer: Sequencer) -> None:
        self.sequencer = sequencer

    def publish(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            self.sequencer.arrive(delivery)

    def stop(self) -> None:
        return None


class RedisBus:
    """`client` publishes (its calls should wait at most REDIS_TIMEOUT_MS: an action must not hang on a
    Redis that stopped answering; what it fails to publish is delivered from the stored stream), and not
    at all while `health` knows Redis is down; `listener` (default: `client`) holds the subscription,
    and has no read timeout, since it waits."""

    def __init__(
        self,
        client: redis.Redis,
        sequencer: Sequencer,
        spawn: Callable[..., object] = gevent.spawn,
        listener: redis.Redis | None = None,
        health: RedisHealth | None = None,
    ) -> None:
        self.client = client
        self.listener = listener if listener is not None else client
        self.health = health
        self.sequencer = sequencer
        self._spawn = spawn
        self._stop = threading.Event()
        self.subscribed = threading.Event()
        self._pubsub: redis.client.PubSub | None = None

    def publish(self, deliveries: list[Delivery]) -> None:
        # While Redis is known to be down, do not wait for it again: refused at once (the caller logs it).
        if self.health is not None:
            self.health.ensure_available()
        # One message per change keeps each change's events together and costs one Redis round trip.
        try:
            self.client.publish(EVENTS_CHANNEL, json.dumps([d.to_wire() for d in deliveries], separators=(",", ":")))
        except (redis.RedisError, OSError) as exc:
            if self.health is not None:
                raise self.health.failed(exc) from exc
            raise

    def start(self) -> RedisBus:
        self._spawn(self._listen_forever)
        return self

    def stop(self) -> None:
        self._stop.set()
        pubsub = self._pubsub
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:  # closing a broken connection may fail too; we are leaving anyway
                log.debug("closing the events subscription failed", exc_info=True)

    def _listen_forever(self) -> None:
        first = True
        outage = OutageLog(
            log,
            lost="the events channel dropped (%s); subscribing again every %s s",
            again="subscribing to the events channel failed again (%s)",
            back="the events channel is back after %d failed subscription(s)",
        )
        while not self._stop.is_set():
            try:
                self._pubsub = self.listener.pubsub(ignore_subscribe_messages=True)
                self._pubsub.subscribe(EVENTS_CHANNEL)
                self.subscribed.set()
                outage.recovered()
                if not first:
                    self.sequencer.check_once()  # what was published while we were away
                first = False
                for message in self._pubsub.listen():
                    if self._stop.is_set():
                        return
                    if message.get("type") != "message":
                        continue
                    self._dispatch(message["data"])
            except Exception as exc:
                if self._stop.is_set():
                    return
                self.subscribed.clear()
                # A traceback only for what is not a Redis or network error.
                outage.failed(exc, RESUBSCRIBE_SECONDS, exc_info=not isinstance(exc, (redis.RedisError, OSError)))
                gevent.sleep(RESUBSCRIBE_SECONDS)

    def _dispatch(self, raw: bytes | str) -> None:
        try:
            items = json.loads(raw)
            deliveries = [Delivery.from_wire(item) for item in items]
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed message on %s", EVENTS_CHANNEL)
            return
        for delivery in deliveries:
            self.sequencer.arrive(delivery)
