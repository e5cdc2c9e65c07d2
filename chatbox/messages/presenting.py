"""Chat list items as one user sees them."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from chatbox.chats.presenting import group_items, group_message_ids, group_unread_conditions, mute_fields
from chatbox.models import Chat, Message, User
from chatbox.models.ids import iso
from chatbox.models.message import STATUS_DELIVERED, STATUS_SENT
from chatbox.runtime import Runtime
from chatbox.users.rules import presence_visible


def chat_items(rt: Runtime, me: User, chats: list[Chat], pinned: set[ObjectId] | None = None) -> list[dict[str, Any]]:
    """Chat list items as `me` sees them, either kind: three queries whatever the number of chats (the
    other users of direct chats, every preview message, every unread count)."""
    if not chats:
        return []
    pinned = set(me.pinned_chats) if pinned is None else pinned
    groups = [c for c in chats if c.is_group]
    directs = [c for c in chats if not c.is_group]
    other_ids = [c.other_participant(me.id) for c in directs]
    users = {u.id: u for u in User.objects(id__in=other_ids)} if directs else {}
    # The chat's newest message, and where I deleted that one for me, the newest I still see.
    wanted = [c.last_message_id for c in directs if c.last_message_id is not None]
    wanted += [ObjectId(c.preview_for[str(me.id)]) for c in directs if (c.preview_for or {}).get(str(me.id))]
    wanted += group_message_ids(me, groups)
    fetched = {m.id: m for m in Message.objects(id__in=wanted)} if wanted else {}
    unread = unread_counts(me, directs, group_unread_conditions(me, groups))
    items = {item["_id"]: item for item in group_items(me, groups, fetched, unread)}
    visible = presence_visible(me, list(users.values()))
    online = rt.presence.online_among([str(i) for i in visible]) if visible else set()
    for chat, other_id in zip(directs, other_ids, strict=True):
        other = users.get(other_id)
        if other is None:
            continue
        last = _preview_message(me, chat, fetched)
        items[str(chat.id)] = {
            "_id": str(chat.id),
            "user": other.to_public_dict(is_online=str(other_id) in online, presence_visible=other_id in visible),
            "lastMessage": last.to_dict() if last else None,
            "lastMessageAt": iso(chat.last_message_at),
            "unreadCount": unread.get(chat.id, 0),
            "isPinned": other_id in pinned,
            "blockedByMe": me.has_blocked(other_id),
            "blockedByOtherUser": other.has_blocked(me.id),
            "kind": "direct",
            **mute_fields(me, chat),
        }
    return [items[str(c.id)] for c in chats if str(c.id) in items]


def _shown(me: User, chat: Chat, message: Message | None) -> bool:
    mark = chat.cleared_mark_for(me.id)
    return message is not None and not message.hidden_from(me.id) and (mark is None or message.id > mark)


def _preview_message(me: User, chat: Chat, fetched: dict[ObjectId, Message]) -> Message | None:
    """The chat list's lastMessage for me: the chat's newest message, or, when I deleted that one for
    me, the newest one I still see (remembered when I deleted it; looked up here only if that one is
    gone too, which takes two deletes racing)."""
    if chat.last_message_id is None:
        return None
    newest = fetched.get(chat.last_message_id)
    if newest is None or not newest.hidden_from(me.id):
        return newest if _shown(me, chat, newest) else None
    remembered = (chat.preview_for or {}).get(str(me.id))
    candidate = fetched.get(ObjectId(remembered)) if remembered else None
    if _shown(me, chat, candidate):
        return candidate
    return newest_shown(me, chat)


def newest_shown(me: User, chat: Chat) -> Message | None:
    """The newest message of the chat that I still see (index: chat, -id)."""
    query: dict[str, Any] = {"chat_id": chat.id, "hidden_for__ne": me.id}
    mark = chat.cleared_mark_for(me.id)
    if mark is not None:
        query["id__gt"] = mark
    return Message.objects(**query).order_by("-id").first()


UNREAD_STATUSES = [STATUS_SENT, STATUS_DELIVERED]  # an $in, not a $ne: tight index bounds


def unread_counts(me: User, chats: list[Chat], more: list[dict[str, Any]] | None = None) -> dict[ObjectId, int]:
    """Messages to `me` not yet read and not cleared, per direct chat (and per branch of `more`, the
    groups' conditions): one aggregation for the whole page, each branch on its own index."""
    branches = []
    for chat in chats:
        condition: dict[str, Any] = {
            "chatId": chat.id,
            "receiverId": me.id,
            "status": {"$in": UNREAD_STATUSES},
            # deleted for everyone, or for me: no longer unread
            "deletedAt": None,
            "hiddenFor": {"$ne": me.id},
        }
        mark = chat.cleared_mark_for(me.id)
        if mark is not None:
            condition["_id"] = {"$gt": mark}
        branches.append(condition)
    branches += more or []
    if not branches:
        return {}
    pipeline = [{"$match": {"$or": branches}}, {"$group": {"_id": "$chatId", "count": {"$sum": 1}}}]
    return {row["_id"]: row["count"] for row in Message.objects.aggregate(pipeline)}
