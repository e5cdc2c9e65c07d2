"""`flask --app wsgi migrate-chats`: bring Part 1 documents to the shape group-aware code writes.

New code reads Part 1 documents as they are (a chat without `kind` is a direct chat, a message without
`system` is an ordinary message), so the migration is not needed for correctness; it makes every
document explicit, which keeps ad-hoc queries and later migrations simple. It is safe to run twice and
on a live database: it walks each collection in `_id` order in batches (on the `_id` index), and every
update is conditional on the field still being absent, so documents written meanwhile by the running
servers are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo.collection import Collection

from chatbox.models import Chat, Message

BATCH = 1000


@dataclass
class MigrationReport:
    chats_seen: int = 0
    chats_updated: int = 0
    messages_seen: int = 0
    messages_updated: int = 0


def _walk(collection: Collection[Any], field: str, value: object, batch: int) -> tuple[int, int]:
    """Set `field` to `value` on every document that lacks it, batch by batch in `_id` order."""
    seen = updated = 0
    after: ObjectId | None = None
    while True:
        query = {"_id": {"$gt": after}} if after is not None else {}
        ids = [d["_id"] for d in collection.find(query, {"_id": 1}).sort("_id", 1).limit(batch)]
        if not ids:
            return seen, updated
        seen += len(ids)
        result = collection.update_many({"_id": {"$in": ids}, field: {"$exists": False}}, {"$set": {field: value}})
        updated += result.modified_count
        after = ids[-1]


def migrate_chats(batch: int = BATCH) -> MigrationReport:
    report = MigrationReport()
    report.chats_seen, report.chats_updated = _walk(Chat._get_collection(), "kind", "direct", batch)
    report.messages_seen, report.messages_updated = _walk(Message._get_collection(), "system", None, batch)
    return report
