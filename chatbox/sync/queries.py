"""The rules of catching up: what `since` may be, when it is too old, and where a socket resumes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chatbox.errors import ApiError
from chatbox.models import User
from chatbox.models import event as stream
from chatbox.models.ids import iso, utcnow
from chatbox.runtime import Runtime

SYNC_POSITION_HEADER = "X-Sync-Position"


def position(user: User) -> int:
    """The user's latest `seq`: read it *before* loading a list, and resume from it afterwards."""
    return stream.position(user.id)


def _expired_since(rt: Runtime, user_id: Any, since: int, position: int, first_after: int | None) -> bool:
    """Were events after `since` removed by the retention period (rather than never stored)?"""
    if since >= position or first_after == since + 1:
        return False
    started = stream.stream_started(user_id)
    retention = timedelta(days=rt.config["EVENT_RETENTION_DAYS"])
    if started is None or started > utcnow() - retention:
        return False  # a stream younger than the retention period has lost nothing to it
    oldest = stream.oldest_kept(user_id)
    return oldest is None or since + 1 < oldest


def catch_up(rt: Runtime, me: User, since: int, limit: int | None) -> dict[str, Any]:
    """`{events, position, hasMore}`: my stored events after `since`, in order; `{reset, position}` when
    some of them are no longer kept; 400 `invalid_since` when `since` is ahead of my position."""
    limit = min(limit or rt.config["SYNC_PAGE_DEFAULT"], rt.config["SYNC_PAGE_MAX"])
    current = stream.position(me.id)
    if since > current:
        raise ApiError(
            400, f"since ({since}) is ahead of your position in the event stream ({current}).", "invalid_since"
        )
    rows = stream.events_after(me.id, since, limit + 1)
    if _expired_since(rt, me.id, since, current, rows[0].seq if rows else None):
        return {"reset": True, "position": current}
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "events": [{"seq": r.seq, "event": r.event, "data": r.data, "createdAt": iso(r.created_at)} for r in rows],
        # Events stored after the position was read may be in the page: never report less than them.
        "position": max([current, *(r.seq for r in rows)]),
        "hasMore": more,
    }


@dataclass(frozen=True)
class ResumePoint:
    next_seq: int  # the first seq the socket is owed
    position: int  # the user's position when the socket started
    reset: bool  # the socket gets `sync-reset {position}` instead of a replay


def resume_point(rt: Runtime, user_id: Any, since: Any) -> ResumePoint:
    """Where a socket that connected with `auth.since` starts: after `since` (replaying what follows),
    or, without `since`, at the live end. A `since` that cannot be resumed from (not a non-negative
    integer, ahead of the position, or older than what is kept) resets the socket to the position."""
    current = stream.position(user_id)
    if since is None:
        return ResumePoint(current + 1, current, reset=False)
    if type(since) is not int or not 0 <= since <= current:
        return ResumePoint(current + 1, current, reset=True)
    first = stream.events_after(user_id, since, 1) if since < current else []
    if _expired_since(rt, user_id, since, current, first[0].seq if first else None):
        return ResumePoint(current + 1, current, reset=True)
    return ResumePoint(since + 1, current, reset=False)
