"""Periodic background work with a clean stop: one helper for the loops a process runs beside its
requests (the session sweep, the event stream's check)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import gevent

log = logging.getLogger("chatbox")


class Periodic:
    """Calls `work` every `interval` seconds in a background task, from `start()` until `stop()`.

    A failed pass is logged and the next one goes on. `stop()` wakes the task at once instead of
    letting it sleep out its interval. Starting twice starts one task.
    """

    def __init__(
        self, name: str, interval: float, work: Callable[[], Any], spawn: Callable[..., Any] = gevent.spawn
    ) -> None:
        self.name = name
        self.interval = interval
        self.work = work
        self._spawn = spawn
        self._stop = threading.Event()
        self._started = False

    @property
    def running(self) -> bool:
        return self._started and not self._stop.is_set()

    def start(self) -> Periodic:
        if not self._started:
            self._started = True
            self._spawn(self._run)
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.work()
            except Exception:
                log.exception("%s failed; the next pass tries again", self.name)
