from __future__ import annotations

import contextlib
from typing import Any

from bson import ObjectId
from mongoengine import DateTimeField, Document, IntField, ObjectIdField, StringField
from pymongo.errors import DuplicateKeyError

from chatbox.models.ids import utcnow

PURPOSE_ATTACHMENT = "attachment"
PURPOSE_AVATAR = "avatar"
PURPOSES = (PURPOSE_ATTACHMENT, PURPOSE_AVATAR)


class StoredFile(Document):
    """An uploaded file's metadata; its bytes (and its thumbnail's) live in `backend` under a generated name."""

    meta = {
        "collection": "files",
        "indexes": [
            {"fields": ["chat_id"]},
            {"fields": ["uploader_id"]},
            # the disk-to-GridFS migration: records still on disk
            {"fields": ["backend"]},
        ],
    }

    uploader_id = ObjectIdField(db_field="uploaderId", required=True)
    purpose = StringField(required=True, choices=PURPOSES)
    kind = StringField(required=True, choices=("image", "file"))
    name = StringField(required=True)
    # The stored size: what is served, and what counts against the uploader's quota.
    size = IntField(required=True)
    mime_type = StringField(db_field="mimeType", required=True)
    # "gridfs" or "disk"; records from before the choice existed have none and are on disk.
    backend = StringField(null=True)
    storage_name = StringField(db_field="storageName", required=True)
    thumb_storage_name = StringField(db_field="thumbStorageName", null=True)
    width = IntField(null=True)
    height = IntField(null=True)
    chat_id = ObjectIdField(db_field="chatId", null=True)
    created_at = DateTimeField(db_field="createdAt", default=utcnow)

    @property
    def url(self) -> str:
        return f"/api/files/{self.id}"

    @property
    def thumb_url(self) -> str | None:
        return f"/api/files/{self.id}/thumb" if self.thumb_storage_name else None

    @classmethod
    def remove(cls, file_id: ObjectId) -> StoredFile | None:
        """Delete the record and return it, or None when it is gone already (so that only one
        caller frees its bytes and gives its space back)."""
        row = cls._get_collection().find_one_and_delete({"_id": file_id})
        return cls._from_son(row) if row else None


class StorageUsage(Document):
    """Bytes a user's uploads take (attachments and profile pictures; thumbnails not counted).

    Space is taken with one conditional `$inc` before anything is stored, so concurrent uploads
    can never add up past the quota, and given back when a file is deleted for good.
    """

    meta = {"collection": "storage_usage"}

    user_id = ObjectIdField(primary_key=True)
    used = IntField(default=0)

    @classmethod
    def take(cls, user_id: ObjectId, nbytes: int, limit: int | None) -> bool:
        """Count `nbytes` more for the user unless that passes `limit` (None: no limit); atomic."""
        collection = cls._get_collection()
        condition: dict[str, Any] = {"_id": user_id}
        if limit is not None:
            condition["used"] = {"$lte": limit - nbytes}
        if collection.update_one(condition, {"$inc": {"used": nbytes}}).matched_count:
            return True
        if collection.find_one({"_id": user_id}, {"_id": 1}) is not None:
            return False  # the user is counted: over the limit
        # First upload since usage was counted: start from what the user's files take already.
        rows = list(
            StoredFile._get_collection().aggregate(
                [{"$match": {"uploaderId": user_id}}, {"$group": {"_id": None, "total": {"$sum": "$size"}}}]
            )
        )
        with contextlib.suppress(DuplicateKeyError):  # a concurrent first upload started it
            collection.update_one(
                {"_id": user_id}, {"$setOnInsert": {"used": rows[0]["total"] if rows else 0}}, upsert=True
            )
        return collection.update_one(condition, {"$inc": {"used": nbytes}}).matched_count == 1

    @classmethod
    def give_back(cls, user_id: ObjectId, nbytes: int) -> None:
        if nbytes:
            cls._get_collection().update_one({"_id": user_id}, {"$inc": {"used": -nbytes}})

    @classmethod
    def used_by(cls, user_id: ObjectId) -> int:
        row = cls._get_collection().find_one({"_id": user_id}, {"used": 1})
        return int(row["used"]) if row else 0
