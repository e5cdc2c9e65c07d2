"""The interfaces of the per-app services that actions and events use, defined below every area.

`Runtime` (chatbox/runtime.py) is typed against these, never against the classes of `realtime/` that
implement them, so that the domain (models, rules, actions, events) imports nothing of the transport
and the layers point one way (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from chatbox.models import User


class TooManyConnections(Exception):
    """The user already holds the most sockets allowed (MAX_SOCKETS_PER_USER), on all processes."""


@dataclass(frozen=True)
class Outgoing:
    """One event for one user: `skip_sid` is the socket that acted (it hears of a durable event in its ack)."""

    user_id: Any
    event: str
    data: Any
    skip_sid: str | None = None


class Stoppable(Protocol):
    def stop(self) -> None: ...


class EventSink(Protocol):
    """Where actions announce changes (chatbox/realtime/notifier.py): durable events are numbered per
    user and stored before they go out; ephemeral ones go straight to the user's sockets."""

    def to_user(self, user_id: Any, event: str, data: Any, skip_sid: str | None = None) -> int | None:
        """Send `event` to every socket of `user_id` (but `skip_sid`); a durable event's `seq` is returned."""
        ...

    def to_users(self, items: Sequence[Outgoing]) -> list[int | None]:
        """Send the events of one change, in the order given; each item's `seq` (None if ephemeral)."""
        ...

    def ensure_deliverable(self) -> None:
        """Raise a 503 ApiError (`queue_unavailable`) when events cannot go out now."""
        ...


class PresenceStore(Protocol):
    def add_connection(self, user_id: str, sid: str, max_sockets: int = 0) -> bool:
        """Record a socket; True when the user just came online (first socket). With `max_sockets`,
        raise TooManyConnections (recording nothing) when the user holds that many already."""
        ...

    def remove_connection(self, user_id: str, sid: str) -> bool:
        """Forget a socket; True when the user just went offline (last socket)."""
        ...

    def is_online(self, user_id: str) -> bool: ...

    def online_among(self, user_ids: Iterable[str]) -> set[str]: ...

    def set_viewing(self, user_id: str, sid: str, other_id: str) -> None:
        """Socket `sid` of `user_id` now views the chat with `other_id` (instead of any other)."""
        ...

    def stop_viewing(self, user_id: str, sid: str, other_id: str) -> None:
        """Socket `sid` no longer views the chat with `other_id` (if it was viewing another, keep that)."""
        ...

    def is_viewing(self, user_id: str, other_id: str) -> bool:
        """Does any socket of `user_id` view the chat with `other_id`?"""
        ...

    def viewing_among(self, user_ids: Iterable[str], other_id: str) -> set[str]:
        """Those of `user_ids` with a socket viewing `other_id` (one round trip with Redis)."""
        ...

    def refresh(self) -> None:
        """Keep this process's entries alive (a no-op where nothing expires)."""
        ...


class SessionChecks(Protocol):
    """Re-checks the token of every open socket (chatbox/realtime/sessions.py)."""

    def ensure_started(self) -> None: ...

    def recheck_user(self, user_id: str) -> int:
        """Drop this user's sockets whose token no longer holds, now; how many were dropped."""
        ...

    def user_changed(self, user_id: str) -> None:
        """The user's document changed: every process reads it again before using it."""
        ...

    def known_user(self, user_id: str) -> User | None:
        """The user's document as this process holds it for their sockets, if it does and hears every
        change to it (then as fresh as a read); None otherwise."""
        ...

    def stop(self) -> None: ...


class ConnectionWatcher(Protocol):
    """Closes connections that never sign in to Socket.IO in time (chatbox/realtime/unclaimed_connections.py)."""

    def watch(self, eio_sid: str | None) -> None: ...


class StreamSequencer(Protocol):
    """Releases each socket's durable events in `seq` order (chatbox/realtime/sequencer.py)."""

    def open(self, sid: str, user_id: str) -> None: ...

    def start(self, sid: str, next_seq: int, head: int) -> None: ...

    def close(self, sid: str) -> None: ...

    def acked(self, sid: str, seqs: Iterable[int]) -> None: ...

    def wait_sent_before(self, sid: str, seq: int) -> bool: ...

    def send_live(self, sid: str, seq: int) -> None: ...

    def stop(self) -> None: ...
