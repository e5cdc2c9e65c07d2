"""Per-socket order of durable events: each socket gets its user's events in `seq` order, none twice,
none skipped unless its write failed.

Every process holds a `Sequencer` for its own sockets. Durable events reach it (from whichever process
produced them: through Redis when scaled out) as `Delivery` items, possibly out of order: two processes
number events for one user at once, and the one that took the higher number may announce it first. For
each socket the sequencer keeps the next `seq` the socket is owed and releases events strictly in that
order:

- an event that arrives early is held back until the ones before it have gone out;
- a missing `seq` is looked for in the stored stream (it was stored but its announcement is late, or
  was lost with the process that made it); that is also how a resuming socket gets what it missed:
  it starts owing `since + 1` and the stored stream fills everything up to the user's position;
- a `seq` that is still missing `gap` seconds after it was first missed is skipped: its number was
  taken by a write that then failed (at once when the stored stream shows that a later event was
  stored longer ago than that);
- the socket whose action caused an event (its `origin`) gets its `seq` in that action's ack: its
  counter moves past it without sending it again, once the ack has gone out (`acked`), so that the
  socket sees its events and acks in `seq` order too.

Every `check_seconds` the process also reads the positions of its sockets' users (one query) and fills
whatever a socket is behind on: an announcement lost with a process that died, or while the queue was
unreachable, is delivered then even if no later event comes to reveal the gap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import gevent
from gevent.event import Event

from chatbox.background import Periodic
from chatbox.models import event as stream
from chatbox.models.ids import utcnow

log = logging.getLogger("chatbox.realtime")

# Durable events are numbered, stored and replayed; every other event is ephemeral.
DURABLE_EVENTS = frozenset(
    {
        "new-message",
        "new-chat",
        "message-status",
        "messages-read",
        "message-updated",
        "message-deleted",
        "message-reactions",
        "chat-updated",
        "chat-removed",
        "user-blocked",
        "user-unblocked",
        "chat-pinned",
        "chat-unpinned",
        "chat-cleared",
    }
)
FILL_BATCH = 100  # stored events read per round trip while a socket catches up

Emit = Callable[[str, str, tuple[Any, dict[str, int]]], None]


@dataclass(frozen=True)
class Delivery:
    """One durable event of one user, as produced."""

    user_id: str
    seq: int
    event: str
    data: Any
    origin: str | None = None  # the socket that had this seq in its ack

    def to_wire(self) -> dict[str, Any]:
        return {"u": self.user_id, "s": self.seq, "e": self.event, "d": self.data, "o": self.origin}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Delivery:
        return cls(str(raw["u"]), int(raw["s"]), str(raw["e"]), raw.get("d"), raw.get("o"))


@dataclass
class SocketStream:
    sid: str
    user_id: str
    next_seq: int | None = None  # None until started: until then everything is held back
    head: int = 0  # the highest seq known to exist for the user
    pending: dict[int, Delivery] = field(default_factory=dict)
    gap_since: float | None = None  # when next_seq was first found missing
    worker: Any = None
    # When the first stored event after a missing one was stored (None: nothing later is stored yet).
    later_stored_at: datetime | None = None
    acked: set[int] = field(default_factory=set)  # this socket's own seqs whose acks have gone out
    own_live: set[int] = field(default_factory=set)  # its own seqs that its acks could not carry
    ack_wait_since: float | None = None  # when the socket started waiting for the ack of next_seq
    wake: Event = field(default_factory=Event)
    progress: Event = field(default_factory=Event)  # set whenever next_seq moves
    closed: bool = False


class Sequencer:
    def __init__(
        self,
        emit: Emit,
        gap_seconds: float,
        check_seconds: float,
        spawn: Callable[..., Any] = gevent.spawn,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._emit = emit
        self.gap_seconds = gap_seconds
        self.check_seconds = check_seconds
        self._spawn = spawn
        self._clock = clock
        self.streams: dict[str, SocketStream] = {}
        self.by_user: dict[str, set[str]] = {}
        self.skipped = 0  # seqs given up on (a failed write), for tests and logs
        self._checker = Periodic("event stream check", check_seconds, self.check_once, spawn=spawn)

    # --- sockets ---------------------------------------------------------------------------------

    def open(self, sid: str, user_id: str) -> None:
        """A socket of `user_id` connected: hold back its events until `start`."""
        self.streams[sid] = SocketStream(sid, user_id)
        self.by_user.setdefault(user_id, set()).add(sid)
        if self.check_seconds > 0:
            self._checker.start()

    def start(self, sid: str, next_seq: int, head: int) -> None:
        """Release the socket's events from `next_seq` on (`head`: the user's position as read)."""
        socket = self.streams.get(sid)
        if socket is None or socket.closed:
            return
        socket.next_seq = next_seq
        socket.head = max(socket.head, head)
        socket.progress.set()
        self._advance(socket)

    def close(self, sid: str) -> None:
        socket = self.streams.pop(sid, None)
        if socket is None:
            return
        socket.closed = True
        socket.wake.set()
        socket.progress.set()
        sids = self.by_user.get(socket.user_id)
        if sids is not None:
            sids.discard(sid)
            if not sids:
                del self.by_user[socket.user_id]

    def stop(self) -> None:
        self._checker.stop()
        for sid in list(self.streams):
            self.close(sid)

    # --- events ----------------------------------------------------------------------------------

    def arrive(self, delivery: Delivery) -> None:
        """A durable event reached this process: offer it to each of its user's sockets here."""
        for sid in list(self.by_user.get(delivery.user_id, ())):
            socket = self.streams.get(sid)
            if socket is None:
                continue
            socket.head = max(socket.head, delivery.seq)
            if socket.next_seq is None or delivery.seq >= socket.next_seq:
                socket.pending.setdefault(delivery.seq, delivery)
            if socket.next_seq is not None:
                self._advance(socket)

    def acked(self, sid: str, seqs: Iterable[int]) -> None:
        """The ack carrying these seqs was sent to `sid` (its own events): later events may follow it."""
        socket = self.streams.get(sid)
        if socket is None:
            return
        socket.acked.update(seqs)
        if socket.next_seq is not None:
            self._advance(socket)

    def wait_sent_before(self, sid: str, seq: int) -> bool:
        """Block until `sid` has been sent (or has skipped) every event before `seq`, so that an ack
        carrying `seq` goes out after the events of the same change that come first (a new-chat) and
        whatever else the user had before it. False when that did not happen within the wait for a
        missing seq (or the socket went): the ack must not carry `seq` then (see `send_live`)."""
        socket = self.streams.get(sid)
        deadline = self._clock() + self.gap_seconds * 1.5
        while socket is not None and not socket.closed and (socket.next_seq is None or socket.next_seq < seq):
            remaining = deadline - self._clock()
            if remaining <= 0:
                log.warning(
                    "acking #%s to %s without its seq: events ahead are late (owed #%s, held %s, head %s, %s)",
                    seq,
                    sid,
                    socket.next_seq,
                    sorted(socket.pending)[:5],
                    socket.head,
                    "filling" if socket.worker is not None else "idle",
                )
                return False
            socket.progress.clear()
            socket.progress.wait(remaining)
        return socket is not None and not socket.closed

    def send_live(self, sid: str, seq: int) -> None:
        """The ack of `sid`'s own event `seq` went out without it: send the event live, in its place."""
        socket = self.streams.get(sid)
        if socket is None:
            return
        socket.own_live.add(seq)
        if socket.next_seq is not None:
            self._advance(socket)

    def behind(self, user_id: str, position: int) -> None:
        """The user's position is `position`: sockets that have not got that far fill the gap."""
        for sid in list(self.by_user.get(user_id, ())):
            socket = self.streams.get(sid)
            if socket is not None and position > socket.head:
                socket.head = position
                if socket.next_seq is not None:
                    self._advance(socket)

    def check_once(self) -> None:
        """Compare every local user's position with what their sockets got (one query)."""
        users = list(self.by_user)
        if not users:
            return
        for user_id, position in stream.positions(users).items():
            self.behind(user_id, position)

    # --- ordering --------------------------------------------------------------------------------

    def _advance(self, socket: SocketStream) -> None:
        """Release what is in order now; if something is missing, let the socket's worker find it."""
        if socket.worker is not None:
            socket.wake.set()
            return
        if not self._release(socket):
            socket.worker = self._spawn(self._fill, socket)

    def _release(self, socket: SocketStream) -> bool:
        """Send held-back events that are next in line; True when the socket is owed nothing more."""
        assert socket.next_seq is not None
        for seq in [s for s in socket.pending if s < socket.next_seq]:
            del socket.pending[seq]
        socket.acked.difference_update([s for s in socket.acked if s < socket.next_seq])
        socket.own_live.difference_update([s for s in socket.own_live if s < socket.next_seq])
        while not socket.closed:
            delivery = socket.pending.get(socket.next_seq)
            if delivery is None:
                break
            if self._awaiting_ack(socket, delivery):
                return False
            del socket.pending[delivery.seq]
            self._send(socket, delivery)
        return not socket.pending and socket.head < socket.next_seq

    def _awaiting_ack(self, socket: SocketStream, delivery: Delivery) -> bool:
        """Is `delivery` this socket's own, with its ack not sent yet? (After `gap` seconds without the
        ack, which only a handler that failed midway would cause, the socket goes on.)"""
        if delivery.origin != socket.sid or delivery.seq in socket.acked or delivery.seq in socket.own_live:
            return False
        if socket.ack_wait_since is None:
            socket.ack_wait_since = self._clock()
        return self._clock() - socket.ack_wait_since < self.gap_seconds

    def _send(self, socket: SocketStream, delivery: Delivery) -> None:
        assert socket.next_seq == delivery.seq
        socket.next_seq = delivery.seq + 1
        socket.gap_since = None
        socket.ack_wait_since = None
        socket.acked.discard(delivery.seq)
        socket.progress.set()
        if delivery.origin == socket.sid and delivery.seq not in socket.own_live:
            return  # this socket had it in its ack
        socket.own_live.discard(delivery.seq)
        try:
            self._emit(socket.sid, delivery.event, (delivery.data, {"seq": delivery.seq}))
        except Exception:
            log.exception("could not send %s #%s to %s", delivery.event, delivery.seq, socket.sid)

    def _fill(self, socket: SocketStream) -> None:
        """The socket is owed an event that has not arrived: read the stored stream, wait, or skip."""
        try:
            grace = self.gap_seconds / 40
            poll = self.gap_seconds / 10
            while True:
                # Cleared before looking, so that an arrival while we look or read wakes the wait below.
                socket.wake.clear()
                if socket.closed or self._release(socket):
                    break
                assert socket.next_seq is not None
                if socket.ack_wait_since is not None and socket.next_seq in socket.pending:
                    # Our own event: its ack is on its way.
                    self._wait(socket, self.gap_seconds - (self._clock() - socket.ack_wait_since))
                    continue
                if socket.gap_since is None:
                    socket.gap_since = self._clock()
                    if socket.pending:
                        # Announcements from two processes cross often; most gaps close at once.
                        self._wait(socket, grace)
                        continue
                if self._from_store(socket):
                    continue
                missing_for = self._clock() - socket.gap_since
                if missing_for >= self.gap_seconds or self._surely_failed(socket):
                    log.warning("skipping #%s of %s: not stored in time", socket.next_seq, socket.user_id)
                    self.skipped += 1
                    socket.next_seq += 1
                    socket.gap_since = None
                    socket.progress.set()
                    continue
                self._wait(socket, min(poll, self.gap_seconds - missing_for))
        except Exception:
            log.exception("event delivery to %s stopped", socket.sid)
        finally:
            socket.worker = None
            if not socket.closed and socket.next_seq is not None and (socket.pending or socket.head >= socket.next_seq):
                # Something arrived while the worker was finishing (or it failed): go again.
                socket.worker = self._spawn(self._retry, socket)

    def _retry(self, socket: SocketStream) -> None:
        gevent.sleep(self.gap_seconds / 10)
        socket.worker = None
        if not socket.closed:
            self._advance(socket)

    def _wait(self, socket: SocketStream, seconds: float) -> None:
        socket.wake.wait(max(seconds, 0.001))

    def _from_store(self, socket: SocketStream) -> bool:
        """Send the stored events from next_seq on; True if any went out."""
        assert socket.next_seq is not None
        rows = stream.events_after(socket.user_id, socket.next_seq - 1, FILL_BATCH)
        socket.later_stored_at = None
        sent = False
        for row in rows:
            if socket.closed or socket.next_seq is None:
                break
            if row.seq < socket.next_seq:
                continue
            if row.seq > socket.next_seq:
                socket.later_stored_at = row.created_at
                break
            socket.head = max(socket.head, row.seq)
            delivery = Delivery(row.user_id, row.seq, row.event, row.data, row.origin)
            if self._awaiting_ack(socket, delivery):
                socket.pending[row.seq] = delivery  # released by its ack
                break
            self._send(socket, delivery)
            sent = True
        return sent

    def _surely_failed(self, socket: SocketStream) -> bool:
        """A later event was stored more than twice the wait ago: the missing one was numbered before it,
        so its write had all that time, and failed."""
        stored_at = socket.later_stored_at
        return stored_at is not None and utcnow() - stored_at > timedelta(seconds=2 * self.gap_seconds)

    def users(self) -> Iterable[str]:
        return list(self.by_user)
