"""Server -> client events about users: presence, blocks, and the pin of a direct chat (which users
pin by the other user's id). Actions call these after a state change; who is told is users.rules'."""

from __future__ import annotations

from typing import Any

from chatbox.models import Chat, User
from chatbox.models.ids import iso
from chatbox.runtime import Runtime
from chatbox.users.rules import is_blocked_between, presence_audience, shares_chat


def _offline_payload(user: User) -> dict[str, Any]:
    return {"userId": str(user.id), "lastSeen": iso(user.last_seen)}


def came_online(rt: Runtime, user: User) -> None:
    for other in presence_audience(user):
        rt.notifier.to_user(other.id, "user-online", {"userId": str(user.id)})


def went_offline(rt: Runtime, user: User) -> None:
    for other in presence_audience(user):
        rt.notifier.to_user(other.id, "user-offline", _offline_payload(user))


def block_changed(rt: Runtime, me: User, other: User) -> None:
    """A block or unblock changes what two chat partners see of each other's presence: tell them.
    (Users who share no chat were never told of each other, so they are told nothing now either.)"""
    if not shares_chat(me, other):
        return
    me.reload()
    other.reload()
    blocked = is_blocked_between(me, other)
    for viewer, subject in ((me, other), (other, me)):
        if not rt.presence.is_online(str(subject.id)):
            continue
        if blocked:
            # lastSeen is hidden across a block, as in user objects.
            rt.notifier.to_user(viewer.id, "user-offline", {"userId": str(subject.id), "lastSeen": None})
        else:
            rt.notifier.to_user(viewer.id, "user-online", {"userId": str(subject.id)})


def blocked_changed(rt: Runtime, me: User, other: User, blocked: bool) -> None:
    """My own devices learn that I blocked or unblocked `other`."""
    rt.notifier.to_user(me.id, "user-blocked" if blocked else "user-unblocked", {"userId": str(other.id)})


def pin_changed(rt: Runtime, me: User, other: User, chat: Chat | None, pinned: bool) -> None:
    """My own devices learn that I pinned or unpinned my chat with `other` (chatId null: no chat yet)."""
    payload = {"chatId": str(chat.id) if chat is not None else None, "userId": str(other.id)}
    rt.notifier.to_user(me.id, "chat-pinned" if pinned else "chat-unpinned", payload)
