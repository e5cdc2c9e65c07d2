"""Chat list items as one user sees them."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from chatbox.models import Chat, Message, User
from chatbox.models.ids import iso
from chatbox.models.message import STATUS_DELIVERED, STATUS_SENT
from chatbox.runtime import Runtime
from chatbox.users.service import presence_visible


def chat_items(rt: Runtime, me: User, chats: list[Chat], pinned: set[ObjectId] | None = None) -> list[dict[str, Any]]:
    """Chat list items as `me` sees them: four queries whatever the number of chats."""
    if not chats:
        return []
    pinned = set(me.pinned_chats) if pinned is None else pinned
    other_ids = [c.other_participant(me.id) for c in chats]
    users = {u.id: u for u in User.objects(id__in=other_ids)}
    visible_last = [
        c.last_message_id
        for c in chats
        if c.last_message_id is not None
        and (c.cleared_mark_for(me.id) is None or c.last_message_id > c.cleared_mark_for(me.id))
    ]
    last_messages = {m.id: m for m in Message.objects(id__in=visible_last)}
    unread = unread_counts(me, chats)
    visible = presence_visible(me, list(users.values()))
    online = rt.presence.online_among([str(i) for i in visible])
    items = []
    for chat, other_id in zip(chats, other_ids, strict=True):
        other = users.get(other_id)
        if other is None:
            continue
        last = last_messages.get(chat.last_message_id) if chat.last_message_id else None
        items.append(
            {
                "_id": str(chat.id),
                "user": other.to_public_dict(is_online=str(other_id) in online, presence_visible=other_id in visible),
                "lastMessage": last.to_dict() if last else None,
                "lastMessageAt": iso(chat.last_message_at),
                "unreadCount": unread.get(chat.id, 0),
                "isPinned": other_id in pinned,
                "blockedByMe": me.has_blocked(other_id),
                "blockedByOtherUser": other.has_blocked(me.id),
            }
        )
    return items


UNREAD_STATUSES = [STATUS_SENT, STATUS_DELIVERED]  # an $in, not a $ne: tight index bounds


def unread_counts(me: User, chats: list[Chat]) -> dict[ObjectId, int]:
    """Messages to `me` not yet read and not cleared, per chat: one aggregation for the whole page."""
    per_chat = []
    for chat in chats:
        condition: dict[str, Any] = {"chatId": chat.id}
        mark = chat.cleared_mark_for(me.id)
        if mark is not None:
            condition["_id"] = {"$gt": mark}
        per_chat.append(condition)
    pipeline = [
        {"$match": {"receiverId": me.id, "status": {"$in": UNREAD_STATUSES}, "$or": per_chat}},
        {"$group": {"_id": "$chatId", "count": {"$sum": 1}}},
    ]
    return {row["_id"]: row["count"] for row in Message.objects.aggregate(pipeline)}
