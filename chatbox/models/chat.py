from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from mongoengine import (
    DateTimeField,
    DictField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    ListField,
    ObjectIdField,
    StringField,
)

from chatbox.models.ids import utcnow

KIND_DIRECT = "direct"
KIND_GROUP = "group"
ROLE_OWNER = "owner"
ROLE_ADMIN = "admin"
ROLE_MEMBER = "member"
ROLES = (ROLE_OWNER, ROLE_ADMIN, ROLE_MEMBER)
# A mute "until unmuted" is stored as this far-away time (an API `null`), so every mute is one comparison.
MUTED_FOREVER = datetime(9999, 12, 31)


def pair_key(a: ObjectId, b: ObjectId) -> str:
    low, high = sorted((str(a), str(b)))
    return f"{low}:{high}"


def group_key(chat_id: ObjectId) -> str:
    return f"group:{chat_id}"


class ChatMember(EmbeddedDocument):
    """One member of a group, current or former.

    Message ids bound what they see: from `sinceId` (the system message that announced their join)
    up to `untilId` (the one that announced their leaving; absent while they are a member). Their read
    and delivery watermarks live beside the list (Chat.read_up_to / delivered_up_to), so that moving
    one never races with a change of the list itself.
    """

    user_id = ObjectIdField(db_field="userId", required=True)
    role = StringField(choices=ROLES, default=ROLE_MEMBER)
    joined_at = DateTimeField(db_field="joinedAt", default=utcnow)
    since_id = ObjectIdField(db_field="sinceId", required=True)
    until_id = ObjectIdField(db_field="untilId", null=True)

    @property
    def is_current(self) -> bool:
        return self.until_id is None

    def saw(self, message_id: ObjectId) -> bool:
        """Was this member in the group when that message was sent?"""
        return self.since_id <= message_id and (self.until_id is None or message_id <= self.until_id)


class ChatRules:
    """What a chat's participants, kind, clear marks and mutes say: shared by the `Chat` document and the
    lighter `ChatState`, so that each rule is written once."""

    kind: str | None
    participants: list[ObjectId]
    cleared_up_to: dict[str, Any]
    muted_until: dict[str, Any]

    @property
    def is_group(self) -> bool:
        return self.kind == KIND_GROUP

    def other_participant(self, user_id: ObjectId) -> ObjectId:
        return next(p for p in self.participants if p != user_id)

    def cleared_mark_for(self, user_id: ObjectId) -> ObjectId | None:
        mark = self.cleared_up_to.get(str(user_id))
        return ObjectId(mark) if mark else None

    def muted_for(self, user_id: ObjectId, now: datetime) -> bool:
        until = self.muted_until.get(str(user_id))
        return isinstance(until, datetime) and until > now


@dataclass(slots=True)
class ChatState(ChatRules):
    """A chat's state as a send finds it (its participants, kind, first message, clear marks and mutes),
    read raw with the send's summary update instead of as a `Chat` document: building a document costs
    more CPU than the rest of that update (docs/benchmarks.md). Read-only; nothing saves it."""

    id: ObjectId
    kind: str | None
    participants: list[ObjectId]
    last_message_id: ObjectId | None
    cleared_up_to: dict[str, Any]
    muted_until: dict[str, Any]

    # The stored fields it is built from, as a projection.
    FIELDS = {"kind": 1, "participants": 1, "lastMessageId": 1, "clearedUpTo": 1, "mutedUntil": 1}

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> ChatState:
        return cls(
            id=raw["_id"],
            kind=raw.get("kind") or KIND_DIRECT,  # stored before groups existed: direct
            participants=list(raw.get("participants") or []),
            last_message_id=raw.get("lastMessageId"),
            cleared_up_to=dict(raw.get("clearedUpTo") or {}),
            muted_until=dict(raw.get("mutedUntil") or {}),
        )


class Chat(ChatRules, Document):
    """A direct chat (one per pair of users) or a group. Unread counts are not stored: they are counted
    from the messages (see messages.presenting), so no race between sends, reads and clears can make them
    drift. Documents stored before groups existed have no `kind`: they read as direct chats.

    `participants` holds the current members of either kind (both users of a direct chat); a group's
    `members` holds everyone who ever was one, with their role, bounds and watermarks, and
    `formerMembers` those who left or were removed and still list the group (until they clear it).
    """

    meta = {
        "collection": "chats",
        "indexes": [
            {"fields": ["pair_key"], "unique": True},
            # the chat list: my chats, newest activity first
            {"fields": ["participants", "-last_message_at", "-id"]},
            # former members of groups still list them
            {"fields": ["former_members", "-last_message_at", "-id"], "sparse": True},
        ],
    }

    kind = StringField(choices=(KIND_DIRECT, KIND_GROUP), default=KIND_DIRECT)
    # direct: the sorted pair (one chat per pair); group: "group:<chatId>" (unique too)
    pair_key = StringField(db_field="pairKey", required=True)
    participants = ListField(ObjectIdField(), required=True)
    # Absent (not null) until the first message, so that `$max` can set it.
    last_message_id = ObjectIdField(db_field="lastMessageId")
    last_message_at = DateTimeField(db_field="lastMessageAt", default=utcnow)
    # userId -> id of the newest message that user cleared; older ones are hidden from them
    cleared_up_to = DictField(db_field="clearedUpTo")
    # userId -> id of the newest message that user still sees, kept when they delete for themselves
    # the chat's newest message (their chat-list preview falls back to it)
    preview_for = DictField(db_field="previewFor")
    # userId -> no push until then (MUTED_FOREVER: until unmuted); both kinds
    muted_until = DictField(db_field="mutedUntil")
    created_at = DateTimeField(db_field="createdAt", default=utcnow)
    # groups only
    name = StringField(null=True)
    avatar = StringField(null=True)
    avatar_file_id = ObjectIdField(db_field="avatarFileId", null=True)
    members = ListField(EmbeddedDocumentField(ChatMember))
    former_members = ListField(ObjectIdField(), db_field="formerMembers")
    # userId -> watermark: every message up to that id is read / delivered for that member (moved with
    # `$max`, never back; absent: nothing after their join)
    read_up_to = DictField(db_field="readUpTo")
    delivered_up_to = DictField(db_field="deliveredUpTo")
    # Bumped by every change of members, roles, name or avatar: those are read-modify-write, guarded by it.
    version = IntField(db_field="v", default=0)

    def member(self, user_id: ObjectId) -> ChatMember | None:
        return next((m for m in self.members if m.user_id == user_id), None)

    def current_members(self) -> list[ChatMember]:
        return [m for m in self.members if m.is_current]

    def read_mark(self, member: ChatMember) -> ObjectId:
        mark = self.read_up_to.get(str(member.user_id))
        return max(mark, member.since_id) if isinstance(mark, ObjectId) else member.since_id

    def delivered_mark(self, member: ChatMember) -> ObjectId:
        mark = self.delivered_up_to.get(str(member.user_id))
        own = max(mark, member.since_id) if isinstance(mark, ObjectId) else member.since_id
        return max(own, self.read_mark(member))  # what was read was delivered
