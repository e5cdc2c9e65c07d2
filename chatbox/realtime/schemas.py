"""Payloads of client → server Socket.IO events (validated like REST bodies)."""

import marshmallow as ma

from chatbox.api import BaseSchema, ObjectIdString


class NewMessageEvent(BaseSchema):
    to = ObjectIdString(required=True)
    text = ma.fields.String(load_default="")
    clientMessageId = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(min=1, max=64))
    # Checked by the send (invalid_reply), like REST's.
    replyTo = ma.fields.String(load_default=None, allow_none=True)


class ToUserEvent(BaseSchema):
    to = ObjectIdString(required=True)


class MessageIdEvent(BaseSchema):
    messageId = ObjectIdString(required=True)


class ChatUserEvent(BaseSchema):
    userId = ObjectIdString(required=True)


class NoPayload(BaseSchema):
    pass
