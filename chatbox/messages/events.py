"""Server -> client events about messages: sends, receipts, typing, edits, deletes, reactions.

Actions call these after a state change; they build payloads and hand them to the EventSink
(`rt.notifier`), and ask the push rule who is to be pushed. Nothing here decides who may do what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId

from chatbox.messages.presenting import chat_items
from chatbox.models import Chat, Message, User
from chatbox.models.chat import ChatState
from chatbox.models.ids import iso, utcnow
from chatbox.push.rules import offline_recipients
from chatbox.runtime import Runtime
from chatbox.services import Outgoing


def ensure_announceable(rt: Runtime) -> None:
    """Before a change that must be announced: 503 `queue_unavailable` now rather than after storing
    it, while the message queue is known to be down."""
    rt.notifier.ensure_deliverable()


def messages_created(
    rt: Runtime,
    chat: Chat | ChatState,
    sender: User,
    receiver: User,
    messages: list[Message],
    first_message: bool,
    origin_sid: str | None,
) -> list[int | None]:
    """Announce a direct send; returns the sender's `seq` of each message's `new-message` (for the ack)."""
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
    if offline_recipients(rt, chat, sender.id, utcnow()):
        rt.push.notify_new_messages(sender, receiver, messages)
    mine = [seq for item, seq in zip(outgoing, seqs, strict=True) if item.user_id == sender.id]
    return mine[len(mine) - len(messages) :]  # after the sender's new-chat, if any


def _as_of_first(item: dict[str, Any], messages: list[Message]) -> dict[str, Any]:
    """A new chat's list item as of its first stored message: a send of several images stores them all
    before announcing any, and `new-chat` goes before the first one's `new-message`. The messages of
    one send share their status, so the first is unread exactly when any of them is."""
    return {**item, "lastMessage": messages[0].to_dict(), "unreadCount": min(item["unreadCount"], 1)}


def group_messages(
    rt: Runtime,
    chat: Chat,
    sender_id: ObjectId,
    messages: list[Message],
    origin_sid: str | None = None,
    also: list[ObjectId] | None = None,
) -> list[int | None]:
    """`new-message` to every current member's devices (not the sending socket), and to `also`
    (a member who just left sees the message that says so): one change, so each member's events are
    numbered in one round trip and all stored in one. Returns the sender's `seq` of each message."""
    audience = list(dict.fromkeys([*chat.participants, *(also or [])]))
    outgoing = []
    for message in messages:
        payload = message.to_dict()
        for user_id in audience:
            skip = origin_sid if user_id == sender_id else None
            outgoing.append(Outgoing(user_id, "new-message", payload, skip_sid=skip))
    seqs = rt.notifier.to_users(outgoing)
    return [seq for item, seq in zip(outgoing, seqs, strict=True) if item.user_id == sender_id]


def push_group_messages(rt: Runtime, chat: Chat, sender: User, messages: list[Message], now: datetime) -> None:
    """Push a group send to the members the push rule names: one batch per send."""
    offline = offline_recipients(rt, chat, sender.id, now)
    if offline:
        rt.push.notify_group_messages(sender, chat.name or "", offline, messages)


def _read_payload(
    chat: Chat | ChatState | None, reader: User, message_ids: list[ObjectId], read_at: datetime
) -> dict[str, Any]:
    return {
        "chatId": str(chat.id) if chat is not None else None,
        "readerId": str(reader.id),
        "messageIds": [str(i) for i in message_ids],
        "readAt": iso(read_at),
    }


def _status_payload(message: Message) -> dict[str, Any]:
    return {
        "messageId": str(message.id),
        "chatId": str(message.chat_id),
        "status": message.status,
        "deliveredAt": iso(message.delivered_at),
        "readAt": iso(message.read_at),
    }


def messages_read_ids(
    rt: Runtime,
    chat: Chat | ChatState,
    reader: User,
    sender_id: ObjectId,
    message_ids: list[ObjectId],
    read_at: datetime,
) -> None:
    rt.notifier.to_user(sender_id, "messages-read", _read_payload(chat, reader, message_ids, read_at))


def message_status(rt: Runtime, message: Message) -> None:
    rt.notifier.to_user(message.sender_id, "message-status", _status_payload(message))


def receipts(
    rt: Runtime,
    chat: Chat | None,
    reader: User,
    read_by_sender: dict[ObjectId, list[ObjectId]],
    read_at: datetime,
    status_changed: list[Message],
) -> None:
    """One reader's move in groups: `messages-read` to each sender whose messages they read, and
    `message-status` to the sender of each message whose aggregate status moved; all as one change."""
    outgoing = [
        Outgoing(sender_id, "messages-read", _read_payload(chat, reader, ids, read_at))
        for sender_id, ids in read_by_sender.items()
    ]
    outgoing += [Outgoing(message.sender_id, "message-status", _status_payload(message)) for message in status_changed]
    if outgoing:
        rt.notifier.to_users(outgoing)


def typing(rt: Runtime, me: User, chat: Chat, started: bool) -> None:
    """`typing` / `stop-typing` to the chat's other participants (direct or group)."""
    for user_id in chat.participants:
        if user_id != me.id:
            rt.notifier.to_user(
                user_id, "typing" if started else "stop-typing", {"from": str(me.id), "chatId": str(chat.id)}
            )


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
