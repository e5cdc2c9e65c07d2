"""Payloads of client → server Socket.IO events (validated like REST bodies)."""

import marshmallow as ma

from chatbox.api import BaseSchema, ObjectIdString, object_id, timestamp
from chatbox.messages.schemas import MessageSchema, SendJsonSchema


def _one_target(data: dict, key: str) -> None:
    """Exactly one of `key` (a user, Part 1) and `chatId` (any chat by its id)."""
    if (data.get(key) is None) == (data.get("chatId") is None):
        raise ma.ValidationError(f"Give either {key} or chatId.", "_schema")


class NewMessageEvent(SendJsonSchema):
    """A socket send: the REST send's body (one definition), plus its target, which REST takes from the path."""

    to = ObjectIdString(load_default=None)
    chatId = ObjectIdString(load_default=None)

    @ma.validates_schema
    def _target(self, data: dict, **kwargs: object) -> None:
        _one_target(data, "to")


class ToUserEvent(BaseSchema):
    to = ObjectIdString(load_default=None)
    chatId = ObjectIdString(load_default=None)

    @ma.validates_schema
    def _target(self, data: dict, **kwargs: object) -> None:
        _one_target(data, "to")


class MessageIdEvent(BaseSchema):
    messageId = ObjectIdString(required=True)


class ChatUserEvent(BaseSchema):
    userId = ObjectIdString(load_default=None)
    chatId = ObjectIdString(load_default=None)

    @ma.validates_schema
    def _target(self, data: dict, **kwargs: object) -> None:
        _one_target(data, "userId")


class NoPayload(BaseSchema):
    pass


# --- payloads of server → client events, and the fields of successful acks (documentation and tests) ---


class UserOnlinePayload(ma.Schema):
    userId = object_id(required=True)


class UserOfflinePayload(ma.Schema):
    userId = object_id(required=True)
    lastSeen = timestamp(required=True, allow_none=True, metadata={"description": "null across a block"})


class TypingPayload(ma.Schema):
    from_ = object_id(required=True, data_key="from", metadata={"description": "The user who types"})
    chatId = object_id(required=True, metadata={"description": "The chat (direct or group) typed in"})


class MessageStatusPayload(ma.Schema):
    messageId = object_id(required=True)
    chatId = object_id(required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(["delivered", "read"]))
    deliveredAt = timestamp(required=True, allow_none=True)
    readAt = timestamp(required=True, allow_none=True)


class MessagesReadPayload(ma.Schema):
    chatId = object_id(required=True)
    readerId = object_id(required=True)
    messageIds = ma.fields.List(object_id(), required=True)
    readAt = timestamp(required=True)


class NewMessageAck(ma.Schema):
    message = ma.fields.Nested(MessageSchema, required=True, metadata={"description": "The stored message"})
    seq = ma.fields.Integer(
        metadata={"description": "The seq of this message's new-message in my event stream (absent when late)"}
    )


class StatusAck(ma.Schema):
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(["delivered", "read"]))


class UpdatedAck(ma.Schema):
    updated = ma.fields.Integer(required=True, metadata={"description": "How many messages became read"})


class EmptyAck(ma.Schema):
    pass


class ChatPinPayload(ma.Schema):
    chatId = object_id(required=True, allow_none=True, metadata={"description": "null: no chat yet"})
    userId = object_id(required=True, allow_none=True, metadata={"description": "null for a group"})


class ChatRemovedPayload(ma.Schema):
    chatId = object_id(required=True, metadata={"description": "The group I left or was removed from, or deleted"})


class ChatClearedPayload(ma.Schema):
    chatId = object_id(required=True)


class SyncResetPayload(ma.Schema):
    position = ma.fields.Integer(
        required=True, metadata={"description": "My latest seq: refetch lists, go on from here"}
    )
