from __future__ import annotations

from mongoengine import DateTimeField, Document, ObjectIdField, StringField

from chatbox.models.ids import utcnow


class RevokedToken(Document):
    """A logged-out token, kept until it would have expired anyway (TTL index)."""

    meta = {
        "collection": "revoked_tokens",
        "indexes": [
            {"fields": ["jti"], "unique": True},
            {"fields": ["expires_at"], "expireAfterSeconds": 0},
        ],
    }

    jti = StringField(required=True)
    expires_at = DateTimeField(db_field="expiresAt", required=True)

    @classmethod
    def holds(cls, jti: str) -> bool:
        """Is this token revoked? One indexed read of the id alone (no document built)."""
        return cls._get_collection().find_one({"jti": jti}, {"_id": 1}) is not None


class DeviceToken(Document):
    """An FCM registration token; it belongs to one user at a time."""

    meta = {
        "collection": "device_tokens",
        "indexes": [{"fields": ["token"], "unique": True}, {"fields": ["user_id", "updated_at"]}],
    }

    token = StringField(required=True)
    user_id = ObjectIdField(db_field="userId", required=True)
    platform = StringField(null=True, choices=("android", "ios", "web"))
    updated_at = DateTimeField(db_field="updatedAt", default=utcnow)
