"""Rate limits on top of the `limits` library, shared by REST and Socket.IO (and across processes via Redis).

While Redis is unreachable the counters fall back to this process's memory (`RedisHealth` says when),
so that limits keep limiting and nothing waits on Redis.
"""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from chatbox.errors import ApiError
from chatbox.redis_health import RedisHealth


class RateLimiter:
    def __init__(
        self, enabled: bool, storage_uri: str | None, health: RedisHealth | None = None, timeout: float = 0.5
    ) -> None:
        self.enabled = enabled
        self.health = health if storage_uri else None
        options = {"socket_timeout": timeout, "socket_connect_timeout": timeout} if storage_uri else {}
        self._shared = MovingWindowRateLimiter(storage_from_string(storage_uri or "memory://", **options))
        self._local = MovingWindowRateLimiter(storage_from_string("memory://"))

    @property
    def _strategy(self) -> MovingWindowRateLimiter:
        if self.health is not None and not self.health.available():
            return self._local
        return self._shared

    def _ask(self, method: str, rule: str, *identifiers: str) -> bool:
        strategy = self._strategy
        try:
            return bool(getattr(strategy, method)(parse(rule), *identifiers))
        except Exception as exc:
            if strategy is self._local or self.health is None:
                raise
            self.health.failed(exc)
            return bool(getattr(self._local, method)(parse(rule), *identifiers))

    def allows(self, rule: str, *identifiers: str) -> bool:
        """Count one use; False once the rule's budget is spent."""
        return not self.enabled or self._ask("hit", rule, *identifiers)

    def hit(self, rule: str, *identifiers: str) -> None:
        """Count one use; raise a 429 ApiError with Retry-After once the rule's budget is spent."""
        if self.allows(rule, *identifiers):
            return
        self._refuse(rule, *identifiers)

    def check(self, rule: str, *identifiers: str) -> None:
        """Without counting: raise the 429 that `hit` would raise if the budget is already spent."""
        if self.enabled and not self._ask("test", rule, *identifiers):
            self._refuse(rule, *identifiers)

    def _refuse(self, rule: str, *identifiers: str) -> None:
        item = parse(rule)
        try:
            reset_at = self._strategy.get_window_stats(item, *identifiers).reset_time
        except Exception:
            reset_at = time.time() + 1
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise ApiError(
            429,
            "Too many requests; try again later.",
            "rate_limited",
            headers={"Retry-After": str(retry_after)},
        )
