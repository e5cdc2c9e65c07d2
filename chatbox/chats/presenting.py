"""Group chat list items and member lists, as one user sees them."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from chatbox.chats import queries
from chatbox.chats.rules import my_role
from chatbox.models import Chat, Message, User
from chatbox.models.chat import MUTED_FOREVER
from chatbox.models.ids import iso, utcnow
from chatbox.runtime import Runtime
from chatbox.users.presenting import public_users


def mute_fields(me: User, chat: Chat) -> dict[str, Any]:
    """`isMuted` and `mutedUntil` (null: until unmuted) for either kind."""
    until = chat.muted_until.get(str(me.id))
    muted = chat.muted_for(me.id, utcnow())
    return {"isMuted": muted, "mutedUntil": iso(until) if muted and until != MUTED_FOREVER else None}


def _preview_id(me: User, chat: Chat) -> ObjectId | None:
    """The newest message of the group in my history: the group's newest, or, once I left, the one that
    said so."""
    member = chat.member(me.id)
    if member is None or chat.last_message_id is None:
        return None
    newest = chat.last_message_id if member.is_current else member.until_id
    mark = chat.cleared_mark_for(me.id)
    return newest if newest is not None and (mark is None or newest > mark) else None


def _fallback_id(me: User, chat: Chat) -> ObjectId | None:
    """Where I deleted the group's newest message for me: the newest I still see (remembered then)."""
    remembered = (chat.preview_for or {}).get(str(me.id))
    return ObjectId(remembered) if remembered else None


def _shown_preview(me: User, chat: Chat, preview: ObjectId | None, messages: dict[ObjectId, Message]) -> Message | None:
    last = messages.get(preview) if preview is not None else None
    if last is None or not last.hidden_from(me.id):
        return last
    fallback_id = _fallback_id(me, chat)
    fallback = messages.get(fallback_id) if fallback_id is not None else None
    member = chat.member(me.id)
    mark = chat.cleared_mark_for(me.id)
    if fallback is None or fallback.hidden_from(me.id) or member is None or not member.saw(fallback.id):
        return None
    return fallback if mark is None or fallback.id > mark else None


def _group_item(me: User, chat: Chat, last: Message | None, unread: int) -> dict[str, Any]:
    return {
        "_id": str(chat.id),
        "kind": "group",
        "user": None,
        "name": chat.name or "",
        "avatar": chat.avatar or "",
        "memberCount": len(chat.participants),
        "myRole": my_role(me, chat),
        "lastMessage": last.to_dict() if last else None,
        "lastMessageAt": iso(last.created_at if last is not None else chat.last_message_at),
        "unreadCount": unread,
        "isPinned": chat.id in set(me.pinned_group_chats),
        **mute_fields(me, chat),
        "blockedByMe": False,
        "blockedByOtherUser": False,
    }


def group_message_ids(me: User, chats: list[Chat]) -> list[ObjectId]:
    """The messages the list items of these groups may show (read with the direct chats' in one query)."""
    wanted = [p for p in (_preview_id(me, c) for c in chats) if p is not None]
    return wanted + [f for f in (_fallback_id(me, c) for c in chats) if f is not None]


def group_unread_conditions(me: User, chats: list[Chat]) -> list[dict[str, Any]]:
    """`$or` branches counting my unread messages in these groups (counted with the direct chats')."""
    return [c for c in (queries.group_unread_condition(me, chat) for chat in chats) if c is not None]


def group_items(
    me: User, chats: list[Chat], messages: dict[ObjectId, Message], unread: dict[ObjectId, int]
) -> list[dict[str, Any]]:
    """List items of groups for one viewer, from the messages of `group_message_ids` and the counts of
    `group_unread_conditions`: no query of its own."""
    return [
        _group_item(me, chat, _shown_preview(me, chat, _preview_id(me, chat), messages), unread.get(chat.id, 0))
        for chat in chats
    ]


def item_for_each(chat: Chat, viewer_ids: list[ObjectId]) -> dict[ObjectId, dict[str, Any]]:
    """One group's item as each of `viewer_ids` sees it (for events): three queries whatever their number."""
    viewers = list(queries.users_by_id(viewer_ids, "id", "pinned_group_chats").values())
    previews = {v.id: _preview_id(v, chat) for v in viewers}
    wanted = {p for p in previews.values() if p is not None}
    wanted |= {f for f in (_fallback_id(v, chat) for v in viewers) if f is not None}
    messages = queries.messages_by_id(list(wanted))
    unread = queries.unread_for_each(chat, [v.id for v in viewers])
    return {
        v.id: _group_item(v, chat, _shown_preview(v, chat, previews[v.id], messages), unread.get(v.id, 0))
        for v in viewers
    }


def members_list(rt: Runtime, me: User, chat: Chat) -> list[dict[str, Any]]:
    """`[{user, role, joinedAt}]` of the current members, in joining order: one query."""
    current = chat.current_members()
    users = queries.users_by_id([m.user_id for m in current])
    present = [m for m in current if m.user_id in users]
    shown = public_users(rt, me, [users[m.user_id] for m in present])
    return [
        {"user": user, "role": m.role, "joinedAt": iso(m.joined_at)} for m, user in zip(present, shown, strict=True)
    ]
