from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bson import ObjectId
from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    ListField,
    ObjectIdField,
    StringField,
    ValidationError,
)
from pymongo import UpdateMany
from pymongo.errors import DuplicateKeyError

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


class ReplyPreview(EmbeddedDocument):
    """What a reply shows of the message it quotes; kept in step when that message is edited or deleted."""

    message_id = ObjectIdField(db_field="_id", required=True)
    sender_id = ObjectIdField(db_field="senderId", required=True)
    text = StringField(default="")
    kind = StringField(required=True, choices=("text", "image", "file", "system"))
    deleted = BooleanField(default=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "_id": str(self.message_id),
            "senderId": str(self.sender_id),
            "text": self.text or "",
            "kind": self.kind,
            "deleted": bool(self.deleted),
        }


def reactions_summary(stored: dict[str, Any] | None) -> list[dict[str, Any]]:
    """`{userId: {emoji, at}}` as the contract shows it: `[{emoji, count, userIds}]`, most used first
    (ties: the emoji first used earliest), each emoji's users in the order they reacted."""
    by_emoji: dict[str, list[tuple[Any, str]]] = {}
    for user_id, entry in (stored or {}).items():
        if isinstance(entry, dict) and isinstance(entry.get("emoji"), str):
            by_emoji.setdefault(entry["emoji"], []).append((entry.get("at"), user_id))
    groups = []
    for emoji, reactors in by_emoji.items():
        reactors.sort(key=lambda r: (r[0] is None, r[0] or 0, r[1]))
        groups.append((emoji, reactors))
    groups.sort(key=lambda g: (-len(g[1]), g[1][0][0] is None, g[1][0][0] or 0, g[0]))
    return [{"emoji": emoji, "count": len(reactors), "userIds": [u for _, u in reactors]} for emoji, reactors in groups]


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
            # files shared between messages (forwards): who still refers to a file, who may read it
            {"fields": ["attachments.file_id"], "sparse": True},
            # replies to a message, whose previews follow its edits and deletion
            {"fields": ["reply_to.message_id"], "sparse": True},
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
    # null for group messages
    receiver_id = ObjectIdField(db_field="receiverId", null=True)
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
    # Message lifecycle. Documents stored before these fields existed read as the defaults.
    edited_at = DateTimeField(db_field="editedAt", null=True)
    deleted_at = DateTimeField(db_field="deletedAt", null=True)
    reply_to = EmbeddedDocumentField(ReplyPreview, db_field="replyTo", null=True)
    # userId -> {emoji, at}: one reaction per user, set and removed atomically by key.
    reactions = DictField(default=dict)
    forwarded = BooleanField(default=False)
    # Users who deleted this message for themselves only.
    hidden_for = ListField(ObjectIdField(), db_field="hiddenFor")
    system = DictField(null=True, default=None)

    @property
    def kind(self) -> str:
        """`system`, `image` (an image attachment), `file` (another attachment) or `text`."""
        return message_kind(self)

    def hidden_from(self, user_id: ObjectId) -> bool:
        return user_id in (self.hidden_for or [])

    def to_dict(self) -> dict[str, Any]:
        """The message's JSON (see `message_json`)."""
        return message_json(self)


class MessageFields(Protocol):
    """What the message JSON is made of: a stored `Message`, or a `NewMessage` a send just stored."""

    id: Any
    chat_id: Any
    sender_id: Any
    receiver_id: Any
    text: Any
    attachments: Any
    status: Any
    client_message_id: Any
    created_at: Any
    updated_at: Any
    delivered_at: Any
    read_at: Any
    edited_at: Any
    deleted_at: Any
    reply_to: Any
    reactions: Any
    forwarded: Any
    system: Any


def message_kind(message: MessageFields) -> str:
    if message.system:
        return "system"
    kinds = {a.kind for a in message.attachments}
    return "image" if "image" in kinds else "file" if "file" in kinds else "text"


def message_json(message: MessageFields) -> dict[str, Any]:
    """The message's JSON: the only code that produces it (a plain dict, as it is on every send's path),
    for a `Message` and a `NewMessage` alike. messages.schemas.MessageSchema describes it for the OpenAPI
    document; tests/test_message_shape.py fails if the two differ in any field."""
    attachments = [a.to_dict() for a in message.attachments]
    image = next((a["url"] for a in attachments if a["kind"] == "image"), None)
    file = next((a["url"] for a in attachments if a["kind"] == "file"), None)
    return {
        "_id": str(message.id),
        "chatId": id_str(message.chat_id),
        "senderId": id_str(message.sender_id),
        "receiverId": id_str(message.receiver_id),
        "text": message.text or "",
        "image": image,
        "file": file,
        "attachments": attachments,
        "status": message.status,
        "clientMessageId": message.client_message_id,
        "createdAt": iso(message.created_at),
        "updatedAt": iso(message.updated_at),
        "deliveredAt": iso(message.delivered_at),
        "readAt": iso(message.read_at),
        "editedAt": iso(message.edited_at),
        "deletedAt": iso(message.deleted_at),
        "replyTo": message.reply_to.to_dict() if message.reply_to else None,
        "reactions": reactions_summary(message.reactions),
        "forwarded": bool(message.forwarded),
        "system": message.system or None,
    }


@dataclass(slots=True, eq=False)
class NewMessage:
    """A message a send stores, without a MongoEngine document: building, validating and serialising a
    `Message` cost a send about 80 µs of CPU (docs/benchmarks.md), a plain object a few. The same
    attributes as `Message` for what a new message has; `to_mongo` is the document `Message.to_mongo`
    would store (tests/test_message_shape.py compares them) and `validate` applies `Message`'s rules
    to the fields a send sets."""

    id: ObjectId
    chat_id: ObjectId
    sender_id: ObjectId
    receiver_id: ObjectId | None
    text: str
    attachments: list[Attachment]
    status: str
    client_message_id: str | None
    batch_id: ObjectId | None
    reply_to: ReplyPreview | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    read_at: datetime | None
    edited_at: datetime | None = None
    deleted_at: datetime | None = None
    reactions: dict[str, Any] = field(default_factory=dict)
    forwarded: bool = False
    hidden_for: list[ObjectId] = field(default_factory=list)
    system: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        return message_kind(self)

    def hidden_from(self, user_id: ObjectId) -> bool:
        return user_id in self.hidden_for

    def to_dict(self) -> dict[str, Any]:
        return message_json(self)

    def validate(self) -> None:
        """`Message.validate`'s checks of what a send sets (types, choices, embedded documents)."""
        errors = [
            name
            for name, ok in (
                ("id", isinstance(self.id, ObjectId)),
                ("chat_id", isinstance(self.chat_id, ObjectId)),
                ("sender_id", isinstance(self.sender_id, ObjectId)),
                ("receiver_id", self.receiver_id is None or isinstance(self.receiver_id, ObjectId)),
                ("text", isinstance(self.text, str)),
                ("status", self.status in STATUSES),
                ("client_message_id", self.client_message_id is None or isinstance(self.client_message_id, str)),
                ("batch_id", self.batch_id is None or isinstance(self.batch_id, ObjectId)),
                ("created_at", isinstance(self.created_at, datetime)),
                ("updated_at", isinstance(self.updated_at, datetime)),
                ("delivered_at", self.delivered_at is None or isinstance(self.delivered_at, datetime)),
                ("read_at", self.read_at is None or isinstance(self.read_at, datetime)),
            )
            if not ok
        ]
        if errors:
            raise ValidationError(f"Invalid new message: {', '.join(errors)}")
        for attachment in self.attachments:
            attachment.validate()
        if self.reply_to is not None:
            self.reply_to.validate()

    def to_mongo(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "chatId": self.chat_id,
            "senderId": self.sender_id,
            "receiverId": self.receiver_id,
            "text": self.text,
            "attachments": [a.to_mongo() for a in self.attachments],
            "status": self.status,
            "clientMessageId": self.client_message_id,
            "batchId": self.batch_id,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "deliveredAt": self.delivered_at,
            "readAt": self.read_at,
            "editedAt": self.edited_at,
            "deletedAt": self.deleted_at,
            "replyTo": self.reply_to.to_mongo() if self.reply_to is not None else None,
            "reactions": dict(self.reactions),
            "forwarded": self.forwarded,
            "hiddenFor": list(self.hidden_for),
            "system": self.system,
        }


def insert_new(message: Message | NewMessage) -> bool:
    """Store a new message (validated as `save` would) with one insert and no query set or signals; False
    when a unique index refuses it (a retried send's clientMessageId)."""
    message.validate()
    try:
        Message._get_collection().insert_one(message.to_mongo())
    except DuplicateKeyError:
        return False
    return True


def set_read(ids: list[ObjectId], at: datetime) -> int:
    """Those of `ids` not read yet become read at `at` (and delivered then, if they were not): one round
    trip, two updates in order. Returns how many became read."""
    if not ids:
        return 0
    unread = {"_id": {"$in": ids}, "status": {"$ne": STATUS_READ}}
    read = {"status": STATUS_READ, "readAt": at, "updatedAt": at}
    result = Message._get_collection().bulk_write(
        [
            UpdateMany({**unread, "deliveredAt": None}, {"$set": {**read, "deliveredAt": at}}),
            UpdateMany(unread, {"$set": read}),  # the rest: delivered before
        ]
    )
    return int(result.modified_count)


def files_still_attached(file_ids: list[ObjectId]) -> set[ObjectId]:
    """Those of `file_ids` that some message still carries (forwards share their files)."""
    if not file_ids:
        return set()
    rows = Message.objects(attachments__file_id__in=file_ids).only("attachments")
    wanted = set(file_ids)
    return {a.file_id for m in rows for a in m.attachments if a.file_id in wanted}


def chats_sharing_file(file_id: ObjectId) -> list[ObjectId]:
    """The chats with a message that carries this file."""
    return list(Message.objects(attachments__file_id=file_id).distinct("chat_id"))
