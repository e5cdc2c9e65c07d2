import marshmallow as ma


class BlockedListSchema(ma.Schema):
    blockedUsers = ma.fields.List(ma.fields.String(), required=True)


class PinnedListSchema(ma.Schema):
    pinnedChats = ma.fields.List(ma.fields.String(), required=True)
