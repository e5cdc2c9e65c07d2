from __future__ import annotations

from mongoengine import DateTimeField, Document, IntField, ObjectIdField, StringField

from chatbox.models.ids import utcnow

PURPOSE_ATTACHMENT = "attachment"
PURPOSE_AVATAR = "avatar"


class StoredFile(Document):
    """An uploaded file's metadata; the bytes live under UPLOAD_DIR with a generated name."""

    meta = {"collection": "files", "indexes": [{"fields": ["chat_id"]}, {"fields": ["uploader_id"]}]}

    uploader_id = ObjectIdField(db_field="uploaderId", required=True)
    purpose = StringField(required=True, choices=(PURPOSE_ATTACHMENT, PURPOSE_AVATAR))
    kind = StringField(required=True, choices=("image", "file"))
    name = StringField(required=True)
    size = IntField(required=True)
    mime_type = StringField(db_field="mimeType", required=True)
    storage_name = StringField(db_field="storageName", required=True)
    chat_id = ObjectIdField(db_field="chatId", null=True)
    created_at = DateTimeField(db_field="createdAt", default=utcnow)

    @property
    def url(self) -> str:
        return f"/api/files/{self.id}"
