"""The per-user event stream: each user's durable events, numbered by that user's own counter.

`event_counters` holds one document per user, `{_id: userId, seq, startedAt, recent}`: `seq` is the
user's latest allocated number (their *position*), bumped atomically with `$inc`, so several server
processes writing for one user at once still get distinct, contiguous numbers. `events` holds the
events themselves, one document per (user, seq), removed by a TTL index after the retention period.

Numbering the events of one change for three users or more (a group send: every member) takes two
round trips whatever their number, not one per user: one `update_many` bumps every counter and appends
`{o: allocation id, n: count}` to each counter's `recent` list (the last RECENT_ALLOCATIONS allocations,
in the order the counter took them), and one `find` reads them back. A counter's `seq` minus the counts
of the allocations after ours in `recent` is where ours ended, however many other processes bumped the
counter in between. Every allocation appends to `recent`, a single user's `findAndModify` included
(as `{n}`: it gets its numbers back in the same command), so the sum is always complete; processes of
a version that bumps counters without appending must not run beside this one. A user whose counter
does not show our allocation (it has no counter yet, or others pushed ours out of `recent` in the
instant between the two round trips) is numbered on its own; numbers taken then and never used are
holes, which the sequencer skips as it skips failed writes.

(user, seq) is unique through the `_id`, `"<userId>:<seq>"`: the `_id` index enforces it at no extra
cost on MongoDB, and the embedded database checks an `_id` with a lookup where it would scan the whole
collection for any other unique index on every insert (measured: it tripled a send's CPU). Reads go
through the (userId, seq) index. Everything here is plain driver calls that MongoDB and the embedded
database both accept, each on an index.

Retention: on MongoDB a TTL index on createdAt drops events `EVENT_RETENTION_DAYS` after they were
stored (the server's own background task, nothing on the write path). The embedded database emulates
TTL indexes by checking every document of the collection at *every* access (an insert included), which
made each send's event insert cost grow with the number of events ever stored; there the index on
createdAt is a plain one and `remove_expired` drops old events in a periodic sweep (chatbox/db.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from mongoengine import (
    DateTimeField,
    DictField,
    Document,
    DynamicField,
    IntField,
    ListField,
    ObjectIdField,
    StringField,
)
from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import BulkWriteError, OperationFailure

from chatbox.models.ids import utcnow

SECONDS_PER_DAY = 86400
# Allocations each counter remembers (for numbering several users in two round trips): ours must still
# be among them when it is read back, an instant after it was made.
RECENT_ALLOCATIONS = 16
# Users from which one change's numbers are taken together (two round trips) rather than one by one.
BATCH_FROM = 3
DUPLICATE_KEY = 11000
TTL_INDEX_NAME = "createdAt_ttl"
SWEPT_INDEX_NAME = "createdAt"  # the embedded database's: no expiry of its own (see above)


class EventCounter(Document):
    """A user's stream position: the last `seq` handed out (absent until their first durable event)."""

    meta = {"collection": "event_counters"}

    id = ObjectIdField(primary_key=True)  # the user's id
    seq = IntField(required=True)
    # When the user's first event was numbered: nothing can have expired from a younger stream.
    started_at = DateTimeField(db_field="startedAt")
    # The latest allocations, oldest first: {o: batch id, n: numbers taken} (see above).
    recent = ListField(DictField())


def event_key(user_id: str, seq: int) -> str:
    """The `_id` of a user's event: unique per (user, seq)."""
    return f"{user_id}:{seq}"


class StoredEvent(Document):
    meta = {
        "collection": "events",
        # The TTL index on createdAt is made by `ensure_event_indexes`, from EVENT_RETENTION_DAYS.
        "indexes": [{"fields": ["user_id", "seq"]}],
    }

    id = StringField(primary_key=True)  # event_key(userId, seq): (user, seq) is unique
    user_id = ObjectIdField(db_field="userId", required=True)
    seq = IntField(required=True)
    event = StringField(required=True)
    data = DynamicField()
    # The socket whose action caused the event and that heard of it in its ack (not replayed to it).
    origin = StringField(null=True)
    created_at = DateTimeField(db_field="createdAt", default=utcnow)


@dataclass(frozen=True)
class EventRow:
    user_id: str
    seq: int
    event: str
    data: Any
    origin: str | None
    created_at: datetime


def ensure_event_indexes(retention_days: int, expire: bool = True) -> None:
    """The TTL index that drops events `retention_days` after they were stored (changed in place when
    the setting changes); with `expire` False, a plain index on createdAt for `remove_expired`."""
    collection = StoredEvent._get_collection()
    if not expire:
        collection.create_index([("createdAt", ASCENDING)], name=SWEPT_INDEX_NAME)
        return
    seconds = max(0, retention_days) * SECONDS_PER_DAY
    try:
        collection.create_index([("createdAt", ASCENDING)], name=TTL_INDEX_NAME, expireAfterSeconds=seconds)
    except OperationFailure:
        # The index exists with another retention: MongoDB changes it with collMod.
        collection.database.command(
            "collMod", collection.name, index={"name": TTL_INDEX_NAME, "expireAfterSeconds": seconds}
        )


def remove_expired(retention_days: int) -> int:
    """Drop the events stored more than `retention_days` ago (what the TTL index does on MongoDB)."""
    cutoff = utcnow() - timedelta(days=max(0, retention_days))
    return int(StoredEvent._get_collection().delete_many({"createdAt": {"$lt": cutoff}}).deleted_count)


def _bump(count: int, allocation: int | None = None) -> dict[str, Any]:
    """Take `count` numbers and remember it (with the batch's id: a single allocation reads the counter
    back in the same command and needs none)."""
    entry: dict[str, int] = {"n": count} if allocation is None else {"o": allocation, "n": count}
    return {"$inc": {"seq": count}, "$push": {"recent": {"$each": [entry], "$slice": -RECENT_ALLOCATIONS}}}


def allocate(user_id: ObjectId, count: int, now: datetime) -> int:
    """Reserve `count` consecutive numbers for `user_id`; return the first. One round trip.

    The counter as it was *before* the increment comes back (None when this upsert created it): the
    same atomic command as asking for the document after, but the embedded database answers it with
    one scan of the counters fewer (it reads the document again to return the new one)."""
    before = EventCounter._get_collection().find_one_and_update(
        {"_id": user_id},
        {**_bump(count), "$setOnInsert": {"startedAt": now}},
        upsert=True,
        return_document=ReturnDocument.BEFORE,
        projection={"seq": True},
    )
    return (int(before["seq"]) if before else 0) + 1


def allocate_many(counts: Mapping[str, int], now: datetime, create: bool = True) -> dict[str, int]:
    """Reserve `counts[user]` consecutive numbers for each user; return each user's first.

    One round trip per user for up to BATCH_FROM - 1 users (the batch would not take fewer). From
    BATCH_FROM users, two (one `update_many` per distinct count, usually one, and one read); three more
    when some of them have no counter yet (created together, then numbered); one per user whose counter
    did not show the allocation (see the module's docstring)."""
    if len(counts) < BATCH_FROM:
        return {user_id: allocate(ObjectId(user_id), count, now) for user_id, count in counts.items()}
    collection = EventCounter._get_collection()
    # Unique among the allocations a counter remembers, whichever process made them (a plain integer:
    # the embedded database copies every entry it touches, and an ObjectId costs far more to copy).
    allocation = secrets.randbits(63)
    by_count: dict[int, list[ObjectId]] = {}
    for user_id, count in counts.items():
        by_count.setdefault(count, []).append(ObjectId(user_id))
    for count, ids in by_count.items():
        collection.update_many({"_id": {"$in": ids}}, _bump(count, allocation))
    firsts: dict[str, int] = {}
    unseen: dict[str, int] = {}  # counted, but our allocation is not (or no longer) in `recent`
    read = collection.find({"_id": {"$in": [ObjectId(u) for u in counts]}}, {"seq": True, "recent": True})
    for counter in read:
        user_id = str(counter["_id"])
        end = int(counter["seq"])
        for entry in reversed(counter.get("recent") or []):
            if entry.get("o") == allocation:
                firsts[user_id] = end - counts[user_id] + 1
                break
            end -= int(entry.get("n", 0))
        else:
            unseen[user_id] = counts[user_id]
    new = {u: n for u, n in counts.items() if u not in firsts and u not in unseen}
    if new and create:
        _create_counters(list(new), now)
        firsts.update(allocate_many(new, now, create=False))
    else:
        unseen.update(new)
    for user_id, count in unseen.items():
        firsts[user_id] = allocate(ObjectId(user_id), count, now)
    return firsts


def _create_counters(user_ids: list[str], now: datetime) -> None:
    """Counters at 0 for users who have none (one round trip; one created meanwhile elsewhere is kept)."""
    try:
        EventCounter._get_collection().insert_many(
            [{"_id": ObjectId(u), "seq": 0, "startedAt": now, "recent": []} for u in user_ids], ordered=False
        )
    except BulkWriteError as exc:
        if any(error.get("code") != DUPLICATE_KEY for error in exc.details.get("writeErrors", [])):
            raise


def store(rows: Sequence[EventRow]) -> None:
    """Store the numbered events of one change, for every user it concerns, in one round trip."""
    if not rows:
        return
    StoredEvent._get_collection().insert_many(
        [
            {
                "_id": event_key(row.user_id, row.seq),
                "userId": ObjectId(row.user_id),
                "seq": row.seq,
                "event": row.event,
                "data": row.data,
                "origin": row.origin,
                "createdAt": row.created_at,
            }
            for row in rows
        ],
        ordered=False,
    )


def position(user_id: ObjectId | str) -> int:
    """The user's latest `seq` (0 before their first durable event)."""
    counter = EventCounter._get_collection().find_one({"_id": ObjectId(str(user_id))}, {"seq": True})
    return int(counter["seq"]) if counter else 0


def stream_started(user_id: ObjectId | str) -> datetime | None:
    counter = EventCounter._get_collection().find_one({"_id": ObjectId(str(user_id))}, {"startedAt": True})
    return counter.get("startedAt") if counter else None


def positions(user_ids: Iterable[str]) -> dict[str, int]:
    """The positions of several users in one round trip (users without events are left out)."""
    ids = [ObjectId(u) for u in user_ids]
    if not ids:
        return {}
    found = EventCounter._get_collection().find({"_id": {"$in": ids}}, {"seq": True})
    return {str(doc["_id"]): int(doc["seq"]) for doc in found}


def events_after(user_id: ObjectId | str, since: int, limit: int) -> list[EventRow]:
    """The user's stored events with `seq > since`, in order, at most `limit`."""
    uid = ObjectId(str(user_id))
    cursor = (
        StoredEvent._get_collection()
        .find({"userId": uid, "seq": {"$gt": since}})
        .sort([("userId", ASCENDING), ("seq", ASCENDING)])
        .limit(limit)
    )
    return [
        EventRow(str(uid), int(doc["seq"]), doc["event"], doc.get("data"), doc.get("origin"), doc["createdAt"])
        for doc in cursor
    ]


def oldest_kept(user_id: ObjectId | str) -> int | None:
    """The lowest `seq` still stored for the user (None when nothing is)."""
    rows = events_after(user_id, 0, 1)
    return rows[0].seq if rows else None
