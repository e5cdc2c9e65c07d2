from __future__ import annotations

from typing import Any

from bson import ObjectId
from mongoengine import BooleanField, DateTimeField, Document, IntField, ListField, ObjectIdField, StringField

from chatbox.models.ids import iso, utcnow


class User(Document):
    meta = {
        "collection": "users",
        "indexes": [
            {"fields": ["email"], "unique": True},
            {"fields": ["is_active", "full_name"]},
            # the socket session sweep: users whose sessions changed lately
            {"fields": ["sessions_changed_at"], "sparse": True},
        ],
    }

    full_name = StringField(db_field="fullName", required=True, max_length=60)
    email = StringField(required=True)
    password_hash = StringField(db_field="passwordHash", required=True)
    profile_pic = StringField(db_field="profilePic", default="")
    profile_pic_file_id = ObjectIdField(db_field="profilePicFileId", null=True)
    last_seen = DateTimeField(db_field="lastSeen", null=True)
    is_active = BooleanField(db_field="isActive", default=True)
    is_blocked = BooleanField(db_field="isBlocked", default=False)
    # May use the administration API (granted by `flask --app wsgi users make-admin EMAIL`).
    is_admin = BooleanField(db_field="isAdmin", default=False)
    blocked_users = ListField(ObjectIdField(), db_field="blockedUsers")
    pinned_chats = ListField(ObjectIdField(), db_field="pinnedChats")
    # Pinned groups, by chat id (a direct chat is pinned by its other user, in pinned_chats)
    pinned_group_chats = ListField(ObjectIdField(), db_field="pinnedGroupChats")
    # Bumped on every password change; tokens carry the version they were issued under.
    token_version = IntField(db_field="tokenVersion", default=0)
    # When a token was revoked or the password or account state last changed: open sockets re-check
    # their token after it.
    sessions_changed_at = DateTimeField(db_field="sessionsChangedAt", null=True)
    created_at = DateTimeField(db_field="createdAt", default=utcnow)

    @classmethod
    def by_id(cls, user_id: ObjectId) -> User | None:
        """One user by id: the driver's read and the document, without building a query set (a send's
        receiver lookup; measured in docs/benchmarks.md)."""
        # find_one's own command (one batch, limit -1), as one `find` call: counters see one read
        raw = next(cls._get_collection().find({"_id": user_id}, limit=-1), None)
        return cls._from_son(raw) if raw is not None else None

    @property
    def can_sign_in(self) -> bool:
        return bool(self.is_active) and not self.is_blocked

    def has_blocked(self, other_id: Any) -> bool:
        return other_id in self.blocked_users

    def to_admin_dict(self) -> dict[str, Any]:
        """What an administrator sees of an account (never the password hash)."""
        return {
            **self.to_public_dict(),
            "isActive": bool(self.is_active),
            "isBlocked": bool(self.is_blocked),
            "isAdmin": bool(self.is_admin),
        }

    def to_public_dict(self, is_online: bool = False, presence_visible: bool = True) -> dict[str, Any]:
        """`presence_visible=False` hides isOnline and lastSeen (see users.service.presence_visible)."""
        return {
            "_id": str(self.id),
            "fullName": self.full_name,
            "email": self.email,
            "profilePic": self.profile_pic or "",
            "lastSeen": iso(self.last_seen) if presence_visible else None,
            "isOnline": is_online and presence_visible,
            "createdAt": iso(self.created_at),
        }
