from __future__ import annotations

from datetime import UTC

import marshmallow as ma

from chatbox.api import BaseSchema, ObjectIdString, object_id, timestamp
from chatbox.auth.schemas import PublicUserSchema
from chatbox.messages.schemas import ChatSchema

ROLE_VALUES = ["owner", "admin", "member"]
AVATAR = {"metadata": {"description": 'data:image/png;base64,... or data:image/jpeg;base64,... ("" removes it)'}}


class CreateGroupSchema(BaseSchema):
    name = ma.fields.String(required=True, metadata={"description": "1 to 100 characters after trimming"})
    memberIds = ma.fields.List(
        ObjectIdString(), required=True, metadata={"description": "Other users; my own id and repeats are ignored"}
    )
    avatar = ma.fields.String(load_default=None, **AVATAR)


class UpdateGroupSchema(BaseSchema):
    name = ma.fields.String(load_default=None, metadata={"description": "1 to 100 characters after trimming"})
    avatar = ma.fields.String(load_default=None, **AVATAR)


class AvatarFilesSchema(BaseSchema):
    avatar = ma.fields.List(
        ma.fields.Raw(metadata={"type": "string", "format": "binary"}),
        validate=ma.validate.Length(max=1, error="Send at most one avatar."),
    )


class UpdateGroupMultipartSchema(BaseSchema):
    """Documentation only: the multipart form of a group update."""

    name = ma.fields.String(metadata={"description": "1 to 100 characters after trimming"})
    avatar = ma.fields.Raw(metadata={"type": "string", "format": "binary", "description": "A JPG or PNG image"})


class AddMembersSchema(BaseSchema):
    userIds = ma.fields.List(ObjectIdString(), required=True, validate=ma.validate.Length(min=1))


class RoleSchema(BaseSchema):
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(["admin", "member"]))


class ReadUpToSchema(BaseSchema):
    upTo = ObjectIdString(required=True)


class MuteSchema(BaseSchema):
    until = ma.fields.AwareDateTime(
        required=True,
        allow_none=True,
        default_timezone=UTC,
        metadata={"description": "ISO 8601 time in the future (UTC when it has no offset), or null: until unmuted"},
    )


class MemberSchema(ma.Schema):
    user = ma.fields.Nested(PublicUserSchema, required=True)
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(ROLE_VALUES))
    joinedAt = timestamp(required=True)


ChatItemSchema = ChatSchema


class ChatWithMembersSchema(ChatItemSchema):
    members = ma.fields.List(ma.fields.Nested(MemberSchema), metadata={"description": "groups only"})


class LeaveResultSchema(ma.Schema):
    left = ma.fields.Boolean()
    removed = ma.fields.Boolean()


class ReceiptSchema(ma.Schema):
    userId = object_id(required=True)
    deliveredAt = timestamp(allow_none=True, required=True)
    readAt = timestamp(allow_none=True, required=True)
