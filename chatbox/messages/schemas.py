from __future__ import annotations

import marshmallow as ma

from chatbox.api import BaseSchema, ObjectIdString, PageArgs, object_id, timestamp
from chatbox.auth.schemas import PublicUserSchema
from config import CLIENT_MESSAGE_ID_MAX, MAX_IMAGES_PER_SEND, MESSAGE_TEXT_MAX, SEARCH_QUERY_MAX

CLIENT_MESSAGE_ID = {
    "load_default": None,
    "allow_none": True,
    "validate": ma.validate.Length(min=1, max=CLIENT_MESSAGE_ID_MAX),
}
# Checked by the send itself: anything but the id of a message of this chat I can see is invalid_reply.
REPLY_TO = {
    "load_default": None,
    "allow_none": True,
    "metadata": {"description": "Id of the message this one answers (a message of the same chat)"},
}


class SendJsonSchema(BaseSchema):
    """The body of a send, over REST (JSON, or the text fields of a multipart form) and over the socket
    (realtime.schemas.NewMessageEvent adds the target)."""

    # Length is a sending rule (MESSAGE_TEXT_MAX after trimming, text_too_long); the body cap bounds the rest.
    text = ma.fields.String(load_default="")
    clientMessageId = ma.fields.String(**CLIENT_MESSAGE_ID)
    replyTo = ma.fields.String(**REPLY_TO)


class SendFilesSchema(BaseSchema):
    images = ma.fields.List(ma.fields.Raw(metadata={"type": "string", "format": "binary"}))
    # A list, so that a second `file` part is refused rather than silently dropped.
    file = ma.fields.List(
        ma.fields.Raw(metadata={"type": "string", "format": "binary"}),
        validate=ma.validate.Length(max=1, error="Send at most one file."),
    )


class SendMultipartSchema(BaseSchema):
    """Documentation only: the multipart form of a send."""

    text = ma.fields.String(metadata={"description": f"1 to {MESSAGE_TEXT_MAX} characters after trimming"})
    clientMessageId = ma.fields.String(validate=ma.validate.Length(min=1, max=CLIENT_MESSAGE_ID_MAX))
    replyTo = ma.fields.String(metadata=REPLY_TO["metadata"])
    images = ma.fields.List(
        ma.fields.Raw(metadata={"type": "string", "format": "binary"}),
        validate=ma.validate.Length(max=MAX_IMAGES_PER_SEND),
        metadata={"description": "JPG or PNG images, one message each"},
    )
    file = ma.fields.Raw(metadata={"type": "string", "format": "binary", "description": "One file of an allowed type"})


class ContactsArgs(PageArgs):
    q = ma.fields.String(load_default="", validate=ma.validate.Length(max=SEARCH_QUERY_MAX))


class SearchArgs(PageArgs):
    q = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=SEARCH_QUERY_MAX))


class AttachmentSchema(ma.Schema):
    _id = object_id(required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(["image", "file"]))
    url = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    size = ma.fields.Integer(required=True, metadata={"description": "Stored size in bytes"})
    mimeType = ma.fields.String(required=True)
    width = ma.fields.Integer(
        required=True, allow_none=True, metadata={"description": "Images: stored (upright) width; else null"}
    )
    height = ma.fields.Integer(
        required=True, allow_none=True, metadata={"description": "Images: stored (upright) height; else null"}
    )
    thumbUrl = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Images: /api/files/:id/thumb (longer side at most 320 px); else null"},
    )


class ReplyPreviewSchema(ma.Schema):
    _id = object_id(required=True)
    senderId = object_id(required=True)
    text = ma.fields.String(required=True, metadata={"description": "The quoted text's first 100 characters"})
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(["text", "image", "file", "system"]))
    deleted = ma.fields.Boolean(required=True)


class ReactionSchema(ma.Schema):
    emoji = ma.fields.String(required=True)
    count = ma.fields.Integer(required=True)
    userIds = ma.fields.List(object_id(), required=True)


class SystemSchema(ma.Schema):
    """What a group system message records; `null` on every other message."""

    type = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(
            [
                "created",
                "member_added",
                "member_removed",
                "member_left",
                "renamed",
                "avatar_changed",
                "role_changed",
                "owner_changed",
            ]
        ),
    )
    actorId = object_id(required=True)
    userIds = ma.fields.List(object_id(), required=True)
    name = ma.fields.String(allow_none=True, required=True)
    role = ma.fields.String(allow_none=True, required=True)


class MessageSchema(ma.Schema):
    """The message JSON as `Message.to_dict` produces it (field for field and in its order; tests check it)."""

    _id = object_id(required=True)
    chatId = object_id(required=True)
    senderId = object_id(required=True)
    receiverId = object_id(allow_none=True, required=True)  # null in a group
    text = ma.fields.String(required=True)
    image = ma.fields.String(allow_none=True, required=True)
    file = ma.fields.String(allow_none=True, required=True)
    attachments = ma.fields.List(ma.fields.Nested(AttachmentSchema), required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(["sent", "delivered", "read"]))
    clientMessageId = ma.fields.String(allow_none=True, required=True)
    createdAt = timestamp(required=True)
    updatedAt = timestamp(required=True)
    deliveredAt = timestamp(allow_none=True, required=True)
    readAt = timestamp(allow_none=True, required=True)
    editedAt = timestamp(allow_none=True, required=True)
    deletedAt = timestamp(allow_none=True, required=True)
    replyTo = ma.fields.Nested(ReplyPreviewSchema, allow_none=True, required=True)
    reactions = ma.fields.List(
        ma.fields.Nested(ReactionSchema), required=True, metadata={"description": "Most used first"}
    )
    forwarded = ma.fields.Boolean(required=True)
    system = ma.fields.Nested(SystemSchema, allow_none=True, required=True)


# One message, or (several images) an array of them.
SENT_MESSAGES = {
    "oneOf": [
        {"$ref": "#/components/schemas/Message"},
        {"type": "array", "items": {"$ref": "#/components/schemas/Message"}, "minItems": 2},
    ]
}


class ChatSchema(ma.Schema):
    """A chat list item of either kind (a group's has `user: null` and the group fields)."""

    _id = object_id(required=True)
    user = ma.fields.Nested(PublicUserSchema, allow_none=True, required=True)
    lastMessage = ma.fields.Nested(MessageSchema, allow_none=True, required=True)
    lastMessageAt = timestamp(required=True)
    unreadCount = ma.fields.Integer(required=True)
    isPinned = ma.fields.Boolean(required=True)
    blockedByMe = ma.fields.Boolean(required=True)
    blockedByOtherUser = ma.fields.Boolean(required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(["direct", "group"]))
    isMuted = ma.fields.Boolean(required=True)
    mutedUntil = timestamp(allow_none=True, required=True)  # null: until unmuted (or not muted)
    name = ma.fields.String(metadata={"description": "groups only"})
    avatar = ma.fields.String(metadata={"description": "groups only: URL or empty"})
    memberCount = ma.fields.Integer(metadata={"description": "groups only"})
    myRole = ma.fields.String(
        allow_none=True,
        validate=ma.validate.OneOf(["owner", "admin", "member"]),
        metadata={"description": "groups only; null for a former member"},
    )


class ReadResultSchema(ma.Schema):
    updated = ma.fields.Integer(required=True)


class ClearResultSchema(ma.Schema):
    cleared = ma.fields.Boolean(required=True)
    deleted = ma.fields.Boolean(required=True)


class EditSchema(BaseSchema):
    text = ma.fields.String(
        required=True, metadata={"description": "Send rules; may be empty on a message with attachments"}
    )


class DeleteArgs(BaseSchema):
    scope = ma.fields.String(
        data_key="for",
        required=True,
        validate=ma.validate.OneOf(["everyone", "me"]),
        metadata={"description": "everyone (the sender, within the delete window) or me (hide it from me)"},
    )


class DeleteResultSchema(ma.Schema):
    deleted = ma.fields.String(required=True, validate=ma.validate.OneOf(["everyone", "me"]))


class ReactSchema(BaseSchema):
    emoji = ma.fields.String(required=True, metadata={"description": "One emoji (one grapheme cluster)"})


class ReactionsResultSchema(ma.Schema):
    messageId = object_id(required=True)
    chatId = object_id(required=True)
    reactions = ma.fields.List(ma.fields.Nested(ReactionSchema), required=True)


class ForwardSchema(BaseSchema):
    to = ma.fields.List(ObjectIdString(), load_default=list, metadata={"description": "User ids"})
    chatIds = ma.fields.List(ObjectIdString(), load_default=list, metadata={"description": "Chat ids"})
