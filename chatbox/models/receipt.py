from __future__ import annotations

from mongoengine import DateTimeField, Document, ObjectIdField, StringField

from chatbox.models.ids import utcnow

MARK_READ = "read"
MARK_DELIVERED = "delivered"


class ReceiptMark(Document):
    """One move of a group member's read or delivery watermark: "at `at`, everything up to `upTo`".

    Group messages keep no per-member status; a member's receipt time for a message is the time of the
    first move of their watermark past it (one aggregation per receipts request).
    """

    meta = {"collection": "receipt_marks", "indexes": [{"fields": ["chat_id", "up_to"]}]}

    chat_id = ObjectIdField(db_field="chatId", required=True)
    user_id = ObjectIdField(db_field="userId", required=True)
    kind = StringField(required=True, choices=(MARK_READ, MARK_DELIVERED))
    up_to = ObjectIdField(db_field="upTo", required=True)
    at = DateTimeField(default=utcnow)
