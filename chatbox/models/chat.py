from __future__ import annotations

from bson import ObjectId
from mongoengine import DateTimeField, DictField, Document, ListField, ObjectIdField, StringField

from chatbox.models.ids import utcnow


def pair_key(a: ObjectId, b: ObjectId) -> str:
    low, high = sorted((str(a), str(b)))
    return f"{low}:{high}"


class Chat(Document):
    """One chat per pair of users. Unread counts are not stored: they are counted from the messages
    (see messages.presenting), so no race between sends, reads and clears can make them drift."""

    meta = {
        "collection": "chats",
        "indexes": [
            {"fields": ["pair_key"], "unique": True},
            # the chat list: my chats, newest activity first
            {"fields": ["participants", "-last_message_at", "-id"]},
        ],
    }

    pair_key = StringField(db_field="pairKey", required=True)
    participants = ListField(ObjectIdField(), required=True)
    # Absent (not null) until the first message, so that `$max` can set it.
    last_message_id = ObjectIdField(db_field="lastMessageId")
    last_message_at = DateTimeField(db_field="lastMessageAt", default=utcnow)
    # userId -> id of the newest message that user cleared; older ones are hidden from them
    cleared_up_to = DictField(db_field="clearedUpTo")
    # userId -> id of the newest message that user still sees, kept when they delete for themselves
    # the chat's newest message (their chat-list preview falls back to it)
    preview_for = DictField(db_field="previewFor")
    created_at = DateTimeField(db_field="createdAt", default=utcnow)

    def other_participant(self, user_id: ObjectId) -> ObjectId:
        return next(p for p in self.participants if p != user_id)

    def cleared_mark_for(self, user_id: ObjectId) -> ObjectId | None:
        mark = self.cleared_up_to.get(str(user_id))
        return ObjectId(mark) if mark else None
