"""Which chat two users share, remembered by each process.

A direct chat's id never changes once its pair has one (the pair's chat is never deleted: a clear hides
or deletes messages, not the chat), so a send into a known chat needs no lookup; the chat document itself
comes back from the summary update every send makes anyway. Bounded, least recently used first out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from bson import ObjectId


class ChatIdCache:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, ObjectId] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, pair: str) -> ObjectId | None:
        with self._lock:
            chat_id = self._ids.get(pair)
            if chat_id is not None:
                self._ids.move_to_end(pair)
            return chat_id

    def put(self, pair: str, chat_id: ObjectId) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            self._ids[pair] = chat_id
            self._ids.move_to_end(pair)
            while len(self._ids) > self.capacity:
                self._ids.popitem(last=False)

    def forget(self, pair: str) -> None:
        with self._lock:
            self._ids.pop(pair, None)
