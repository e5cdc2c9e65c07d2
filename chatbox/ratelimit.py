"""Rate limits on top of the `limits` library, shared by REST and Socket.IO (and across processes via Redis)."""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from chatbox.errors import ApiError


class RateLimiter:
    def __init__(self, enabled: bool, storage_uri: str | None) -> None:
        self.enabled = enabled
        self._strategy = MovingWindowRateLimiter(storage_from_string(storage_uri or "memory://"))

    def allows(self, rule: str, *identifiers: str) -> bool:
        """Count one use; False once the rule's budget is spent."""
        return not self.enabled or self._strategy.hit(parse(rule), *identifiers)

    def hit(self, rule: str, *identifiers: str) -> None:
        """Count one use; raise a 429 ApiError with Retry-After once the rule's budget is spent."""
        if self.allows(rule, *identifiers):
            return
        item = parse(rule)
        reset_at = self._strategy.get_window_stats(item, *identifiers).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise ApiError(
            429,
            "Too many requests; try again later.",
            "rate_limited",
            headers={"Retry-After": str(retry_after)},
        )
