import marshmallow as ma

from chatbox.api import object_id


class BlockedListSchema(ma.Schema):
    blockedUsers = ma.fields.List(object_id(), required=True)


class PinnedListSchema(ma.Schema):
    pinnedChats = ma.fields.List(object_id(), required=True)
