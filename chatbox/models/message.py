from __future__ import annotations

from typing import Any

from mongoengine import (
    DateTimeField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    ListField,
    ObjectIdField,
    StringField,
)

from chatbox.models.ids import id_str, iso, utcnow

STATUS_SENT = "sent"
STATUS_DELIVERED = "delivered"
STATUS_READ = "read"
STATUSES = (STATUS_SENT, STATUS_DELIVERED, STATUS_READ)


class Attachment(EmbeddedDocument):
    file_id = ObjectIdField(db_field="_id", required=True)
    kind = StringField(required=True, choices=("image", "file"))
    url = StringField(required=True)
    name = StringField(required=True)
    size = IntField(required=True)
    mime_type = StringField(db_field="mimeType", required=True)
    # Images: the stored (upright) size and the thumbnail's URL; null for other files (and for
    # images stored before thumbnails existed).
    width = IntField(null=True)
    height = IntField(null=True)
    thumb_url = StringField(db_field="thumbUrl", null=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "_id": str(self.file_id),
            "kind": self.kind,
            "url": self.url,
            "name": self.name,
            "size": self.size,
            "mimeType": self.mime_type,
            "width": self.width,
            "height": self.height,
            "thumbUrl": self.thumb_url,
        }


class Message(Document):
    meta = {
        "collection": "messages",
        "indexes": [
            # history pages and "clear": one chat, newest first by id
            {"fields": ["chat_id", "-id"]},
            # read watermark: my unread messages in one chat
            {"fields": ["chat_id", "receiver_id", "status", "id"]},
            {"fields": ["batch_id"], "partialFilterExpression": {"batchId": {"$type": "objectId"}}},
            # delivery on connect: everything waiting for me
            {"fields": ["receiver_id", "status"]},
            # idempotent sends: one message per (sender, clientMessageId)
            {
                "fields": ["sender_id", "client_message_id"],
                "unique": True,
                "partialFilterExpression": {"clientMessageId": {"$type": "string"}},
            },
        ],
    }

    chat_id = ObjectIdField(db_field="chatId", required=True)
    sender_id = ObjectIdField(db_field="senderId", required=True)
    receiver_id = ObjectIdField(db_field="receiverId", required=True)
    text = StringField(default="")
    attachments = ListField(EmbeddedDocumentField(Attachment))
    status = StringField(default=STATUS_SENT, choices=STATUSES)
    client_message_id = StringField(db_field="clientMessageId", null=True)
    # The messages of one multi-image send share the first message's id here (a retry returns them all).
    batch_id = ObjectIdField(db_field="batchId", null=True)
    created_at = DateTimeField(db_field="createdAt", default=utcnow)
    updated_at = DateTimeField(db_field="updatedAt", default=utcnow)
    delivered_at = DateTimeField(db_field="deliveredAt", null=True)
    read_at = DateTimeField(db_field="readAt", null=True)

    def to_dict(self) -> dict[str, Any]:
        attachments = [a.to_dict() for a in self.attachments]
        image = next((a["url"] for a in attachments if a["kind"] == "image"), None)
        file = next((a["url"] for a in attachments if a["kind"] == "file"), None)
        return {
            "_id": str(self.id),
            "chatId": id_str(self.chat_id),
            "senderId": id_str(self.sender_id),
            "receiverId": id_str(self.receiver_id),
            "text": self.text or "",
            "image": image,
            "file": file,
            "attachments": attachments,
            "status": self.status,
            "clientMessageId": self.client_message_id,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "deliveredAt": iso(self.delivered_at),
            "readAt": iso(self.read_at),
        }
