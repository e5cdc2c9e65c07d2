"""Server -> client events about chats as list items: a group appearing, changing or going away, and my
own devices hearing that I pinned or cleared a chat. Actions call these after a state change; nothing
here decides a rule. One `rt.notifier` call per change."""

from __future__ import annotations

from bson import ObjectId

from chatbox.chats.presenting import item_for_each
from chatbox.models import Chat, User
from chatbox.runtime import Runtime
from chatbox.services import Outgoing


def new_chat(rt: Runtime, chat: Chat, user_ids: list[ObjectId]) -> None:
    """The group's item to members who just got it (created, or added)."""
    items = item_for_each(chat, user_ids)
    rt.notifier.to_users([Outgoing(user_id, "new-chat", item) for user_id, item in items.items()])


def chat_updated(rt: Runtime, chat: Chat, skip: list[ObjectId] | None = None) -> None:
    """The group's item, as each current member sees it, after a rename, avatar or member change."""
    skipped = set(skip or [])
    items = item_for_each(chat, [p for p in chat.participants if p not in skipped])
    rt.notifier.to_users([Outgoing(user_id, "chat-updated", item) for user_id, item in items.items()])


def chat_removed(rt: Runtime, chat_id: ObjectId, user_ids: list[ObjectId]) -> None:
    payload = {"chatId": str(chat_id)}
    rt.notifier.to_users([Outgoing(user_id, "chat-removed", payload) for user_id in user_ids])


def group_pin_changed(rt: Runtime, me: User, chat: Chat, pinned: bool) -> None:
    """My own devices learn that I pinned or unpinned a group (a direct chat's pin: users.events)."""
    rt.notifier.to_user(me.id, "chat-pinned" if pinned else "chat-unpinned", {"chatId": str(chat.id), "userId": None})


def chat_cleared(rt: Runtime, me: User, chat: Chat) -> None:
    """My own devices learn that I cleared my history of `chat` (direct or group)."""
    rt.notifier.to_user(me.id, "chat-cleared", {"chatId": str(chat.id)})
