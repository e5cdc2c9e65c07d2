"""Whether Redis (the Socket.IO message queue, shared presence and rate-limit counters) answers.

With `REDIS_URL` set, an action that must announce something cannot complete while Redis is
unreachable. Rather than letting every Redis call wait out its own timeout (a stopped Redis accepts
connections and never answers), one `RedisHealth` per app remembers the last verdict for
`recheck_seconds`: while Redis is known to be down, callers are refused at once with 503
`queue_unavailable` (and `Retry-After`), and a PING of at most `probe_timeout` seconds decides again
once the verdict is older than that. Any Redis call that fails marks Redis down; the next successful
probe marks it up again, so the process recovers by itself when Redis returns.
"""

from __future__ import annotations

import logging
import threading
import time

import redis

from chatbox.errors import QueueUnavailable

log = logging.getLogger("chatbox.redis")


class RedisHealth:
    def __init__(self, url: str, probe_timeout: float, recheck_seconds: float = 0.5) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=probe_timeout, socket_connect_timeout=probe_timeout)
        self.recheck_seconds = recheck_seconds
        self.up = True
        self.outages = 0  # how many times Redis went from answering to not answering
        self.checked_at = float("-inf")
        self._lock = threading.Lock()

    def probe(self) -> bool:
        """PING now and remember the answer."""
        self.checked_at = time.monotonic()  # first, so that callers meanwhile use the last verdict
        try:
            self.client.ping()
        except (redis.RedisError, OSError):
            self._set(False)
        else:
            self._set(True)
        return self.up

    def available(self) -> bool:
        """The last verdict, probing again when it is older than `recheck_seconds`."""
        if time.monotonic() - self.checked_at >= self.recheck_seconds:
            with self._lock:
                if time.monotonic() - self.checked_at >= self.recheck_seconds:
                    self.probe()
        return self.up

    def ensure_available(self) -> None:
        if not self.available():
            raise QueueUnavailable

    def failed(self, exc: BaseException) -> QueueUnavailable:
        """A Redis call failed: remember it, and return the error to raise."""
        self.checked_at = time.monotonic()
        self._set(False, exc)
        return QueueUnavailable()

    def _set(self, up: bool, exc: BaseException | None = None) -> None:
        if up != self.up:
            if up:
                log.warning("Redis answers again")
            else:
                self.outages += 1
                log.error("Redis is unreachable: %s", exc or "no answer to PING")
        self.up = up


class OutageLog:
    """How a listener that retries Redis logs an outage: one warning when it starts (`lost`, with the
    error and the caller's further arguments), the retries at debug level (`again`, with the error), and
    one warning when it ends (`back`, with the count of failed attempts). While Redis stays down, a line
    per retry would bury the log."""

    def __init__(self, logger: logging.Logger, lost: str, again: str, back: str) -> None:
        self.logger = logger
        self.lost, self.again, self.back = lost, again, back
        self.failures = 0  # of the current outage

    def failed(self, error: object, *lost_args: object, exc_info: bool = False) -> None:
        self.failures += 1
        if self.failures == 1:
            self.logger.warning(self.lost, error, *lost_args, exc_info=exc_info)
        else:
            self.logger.debug(self.again, error)

    def recovered(self) -> None:
        if self.failures:
            self.logger.warning(self.back, self.failures)
            self.failures = 0
