"""Who is connected, on how many sockets, and which chat each socket is viewing.

An interface with an in-process implementation; the Redis one shares it across server processes.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable

from chatbox.services import PresenceStore, TooManyConnections

__all__ = ["MemoryPresence", "PresenceStore", "TooManyConnections"]


class MemoryPresence:
    """Presence for a single server process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: dict[str, set[str]] = defaultdict(set)
        self._viewing: dict[str, dict[str, str]] = defaultdict(dict)  # user -> sid -> other user

    def add_connection(self, user_id: str, sid: str, max_sockets: int = 0) -> bool:
        with self._lock:
            sockets = self._sockets[user_id]
            if max_sockets and sid not in sockets and len(sockets) >= max_sockets:
                if not sockets:
                    del self._sockets[user_id]
                raise TooManyConnections
            first = not sockets
            sockets.add(sid)
            return first

    def remove_connection(self, user_id: str, sid: str) -> bool:
        with self._lock:
            sockets = self._sockets.get(user_id)
            self._viewing.get(user_id, {}).pop(sid, None)
            if not sockets or sid not in sockets:
                return False
            sockets.discard(sid)
            if sockets:
                return False
            del self._sockets[user_id]
            self._viewing.pop(user_id, None)
            return True

    def is_online(self, user_id: str) -> bool:
        return bool(self._sockets.get(user_id))

    def online_among(self, user_ids: Iterable[str]) -> set[str]:
        return {u for u in user_ids if self._sockets.get(u)}

    def set_viewing(self, user_id: str, sid: str, other_id: str) -> None:
        with self._lock:
            if sid in self._sockets.get(user_id, ()):
                self._viewing[user_id][sid] = other_id

    def stop_viewing(self, user_id: str, sid: str, other_id: str) -> None:
        with self._lock:
            views = self._viewing.get(user_id, {})
            if views.get(sid) == other_id:
                del views[sid]

    def is_viewing(self, user_id: str, other_id: str) -> bool:
        return other_id in self._viewing.get(user_id, {}).values()

    def viewing_among(self, user_ids: Iterable[str], other_id: str) -> set[str]:
        return {u for u in user_ids if self.is_viewing(u, other_id)}

    def refresh(self) -> None:
        return None
