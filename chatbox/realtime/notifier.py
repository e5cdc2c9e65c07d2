"""Sends server events to users: ephemeral ones straight to their rooms through the Socket.IO server (and
its queue, when scaled out); durable ones numbered and stored in each user's event stream first, then
handed to every process's sequencer (chatbox/realtime/sequencer.py), which releases them to each socket
in order, with `{seq}` as a second argument."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import socketio
from pymongo.errors import PyMongoError

from chatbox.errors import QueueUnavailable
from chatbox.models import event as stream
from chatbox.models.ids import utcnow
from chatbox.realtime.sequencer import DURABLE_EVENTS, Delivery
from chatbox.services import Outgoing

if TYPE_CHECKING:
    from chatbox.realtime.bus import EventBus

log = logging.getLogger("chatbox.realtime")


def user_room(user_id: str) -> str:
    return f"user:{user_id}"


class Notifier:
    def __init__(self, server: socketio.Server, bus: EventBus | None = None) -> None:
        self.server = server
        self.bus = bus

    def to_user(self, user_id: Any, event: str, data: Any, skip_sid: str | None = None) -> int | None:
        """Send `event` to every socket of `user_id` (but `skip_sid`); a durable event's `seq` is returned."""
        return self.to_users([Outgoing(user_id, event, data, skip_sid)])[0]

    def to_users(self, items: Sequence[Outgoing]) -> list[int | None]:
        """Send the events of one change: the durable ones are numbered per user (each user's in the
        order given; two round trips for any number of users, one for one) and stored together (one
        round trip). Returns each item's `seq` (None for an ephemeral event)."""
        seqs: list[int | None] = [None] * len(items)
        durable = [i for i, item in enumerate(items) if item.event in DURABLE_EVENTS and self.bus is not None]
        for i, item in enumerate(items):
            if i not in durable:
                self.server.emit(item.event, item.data, to=user_room(str(item.user_id)), skip_sid=item.skip_sid)
        if not durable:
            return seqs
        now = utcnow()
        per_user: dict[str, list[int]] = {}
        for i in durable:
            per_user.setdefault(str(items[i].user_id), []).append(i)
        try:
            firsts = stream.allocate_many({user_id: len(indexes) for user_id, indexes in per_user.items()}, now)
            for user_id, indexes in per_user.items():
                for offset, i in enumerate(indexes):
                    seqs[i] = firsts[user_id] + offset
        except PyMongoError:
            log.exception("could not number events; sending them without a seq")
            for i in durable:
                if seqs[i] is None:
                    item = items[i]
                    self.server.emit(item.event, item.data, to=user_room(str(item.user_id)), skip_sid=item.skip_sid)
            durable = [i for i in durable if seqs[i] is not None]
        rows = [
            stream.EventRow(str(item.user_id), int(seqs[i] or 0), item.event, item.data, item.skip_sid, now)
            for i, item in ((i, items[i]) for i in durable)
        ]
        try:
            stream.store(rows)
        except PyMongoError:
            # Connected sockets still get them live; a socket that resumes later finds them missing and
            # skips them after EVENT_GAP_MS.
            log.exception("could not store %d events", len(rows))
        self._publish([Delivery(r.user_id, r.seq, r.event, r.data, r.origin) for r in rows])
        return seqs

    def ensure_deliverable(self) -> None:
        """Raise QueueUnavailable (503) when events cannot go out now: REDIS_URL is set and Redis is
        known to be unreachable (chatbox/redis_health.py). A no-op on a single process."""
        health = getattr(self.server.manager, "health", None)
        if health is not None:
            health.ensure_available()

    def _publish(self, deliveries: list[Delivery]) -> None:
        if not deliveries or self.bus is None:
            return
        try:
            self.bus.publish(deliveries)
        except QueueUnavailable:
            # Stored: each process's periodic check (EVENT_CHECK_SECONDS) delivers them from the stream.
            log.warning("could not announce %d stored events: Redis unavailable", len(deliveries))
        except Exception:
            log.exception("could not announce %d stored events", len(deliveries))
