"""Server → client events. Actions call these after a state change; nothing here decides a rule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId

from chatbox.models import Chat, Message, User
from chatbox.models.ids import iso, utcnow
from chatbox.runtime import Runtime
from chatbox.services import Outgoing
from chatbox.users.rules import is_blocked_between, presence_audience, shares_chat


def ensure_announceable(rt: Runtime) -> None:
    """Before a change that must be announced: 503 `queue_unavailable` now rather than after storing
    it, while the message queue is known to be down."""
    rt.notifier.ensure_deliverable()


def messages_created(
    rt: Runtime,
    chat: Chat,
    sender: User,
    receiver: User,
    messages: list[Message],
    first_message: bool,
    origin_sid: str | None,
) -> list[int | None]:
    """Announce a send; returns the sender's `seq` of each message's `new-message` (for the ack)."""
    from chatbox.messages.presenting import chat_items

    outgoing: list[Outgoing] = []
    if first_message:
        for viewer in (sender, receiver):
            outgoing.append(Outgoing(viewer.id, "new-chat", _as_of_first(chat_items(rt, viewer, [chat])[0], messages)))
    for message in messages:
        payload = message.to_dict()
        outgoing.append(Outgoing(receiver.id, "new-message", payload))
        outgoing.append(Outgoing(sender.id, "new-message", payload, skip_sid=origin_sid))
    # One change: each user's events numbered in one round trip, all of them stored in one.
    seqs = rt.notifier.to_users(outgoing)
    if not rt.presence.is_online(str(receiver.id)) and not chat.muted_for(receiver.id, utcnow()):
        rt.push.notify_new_messages(sender, receiver, messages)
    mine = [seq for item, seq in zip(outgoing, seqs, strict=True) if item.user_id == sender.id]
    return mine[len(mine) - len(messages) :]  # after the sender's new-chat, if any


def _as_of_first(item: dict[str, Any], messages: list[Message]) -> dict[str, Any]:
    """A new chat's list item as of its first stored message: a send of several images stores them all
    before announcing any, and `new-chat` goes before the first one's `new-message`. The messages of
    one send share their status, so the first is unread exactly when any of them is."""
    return {**item, "lastMessage": messages[0].to_dict(), "unreadCount": min(item["unreadCount"], 1)}


def messages_read_ids(
    rt: Runtime, chat: Chat, reader: User, sender_id: ObjectId, message_ids: list[ObjectId], read_at: datetime
) -> None:
    rt.notifier.to_user(
        sender_id,
        "messages-read",
        {
            "chatId": str(chat.id),
            "readerId": str(reader.id),
            "messageIds": [str(i) for i in message_ids],
            "readAt": iso(read_at),
        },
    )


def message_status(rt: Runtime, message: Message) -> None:
    rt.notifier.to_user(
        message.sender_id,
        "message-status",
        {
            "messageId": str(message.id),
            "chatId": str(message.chat_id),
            "status": message.status,
            "deliveredAt": iso(message.delivered_at),
            "readAt": iso(message.read_at),
        },
    )


def _offline_payload(user: User) -> dict[str, Any]:
    return {"userId": str(user.id), "lastSeen": iso(user.last_seen)}


def came_online(rt: Runtime, user: User) -> None:
    for other in presence_audience(user):
        rt.notifier.to_user(other.id, "user-online", {"userId": str(user.id)})


def went_offline(rt: Runtime, user: User) -> None:
    for other in presence_audience(user):
        rt.notifier.to_user(other.id, "user-offline", _offline_payload(user))


def online_contacts(rt: Runtime, user: User) -> list[str]:
    audience = [str(u.id) for u in presence_audience(user)]
    return sorted(rt.presence.online_among(audience))


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


def typing(rt: Runtime, me: User, other: User, chat: Chat, started: bool) -> None:
    payload = {"from": str(me.id), "chatId": str(chat.id)}
    rt.notifier.to_user(other.id, "typing" if started else "stop-typing", payload)


# Message lifecycle: one call per user concerned (every participant of the message's chat, across a
# block too: what they get only reflects what they already had). Never a push.


def message_updated(rt: Runtime, chat: Chat, message: Message) -> None:
    payload = message.to_dict()
    for user_id in chat.participants:
        rt.notifier.to_user(user_id, "message-updated", payload)


def message_deleted(rt: Runtime, chat: Chat, message: Message) -> None:
    payload = {"messageId": str(message.id), "chatId": str(chat.id), "deletedAt": iso(message.deleted_at)}
    for user_id in chat.participants:
        rt.notifier.to_user(user_id, "message-deleted", payload)


def message_deleted_for_me(rt: Runtime, me: User, message: Message) -> None:
    payload = {"messageId": str(message.id), "chatId": str(message.chat_id), "forMe": True}
    rt.notifier.to_user(me.id, "message-deleted", payload)


def message_reactions(rt: Runtime, chat: Chat, message: Message) -> None:
    payload = {"messageId": str(message.id), "chatId": str(chat.id), "reactions": message.to_dict()["reactions"]}
    for user_id in chat.participants:
        rt.notifier.to_user(user_id, "message-reactions", payload)


def blocked_changed(rt: Runtime, me: User, other: User, blocked: bool) -> None:
    """My own devices learn that I blocked or unblocked `other`."""
    rt.notifier.to_user(me.id, "user-blocked" if blocked else "user-unblocked", {"userId": str(other.id)})


def pin_changed(rt: Runtime, me: User, other: User, chat: Chat | None, pinned: bool) -> None:
    """My own devices learn that I pinned or unpinned my chat with `other` (chatId null: no chat yet)."""
    payload = {"chatId": str(chat.id) if chat is not None else None, "userId": str(other.id)}
    rt.notifier.to_user(me.id, "chat-pinned" if pinned else "chat-unpinned", payload)


def chat_cleared(rt: Runtime, me: User, chat: Chat) -> None:
    """My own devices learn that I cleared my history of `chat`."""
    rt.notifier.to_user(me.id, "chat-cleared", {"chatId": str(chat.id)})
