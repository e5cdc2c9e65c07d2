"""Server → client events of chats reached by id and of groups. Actions call these after a state change;
nothing here decides a rule. One `rt.notifier.to_user` call per user concerned, as in events.py."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId

from chatbox.chats.presenting import item_for_each
from chatbox.models import Chat, Message, User
from chatbox.models.ids import iso
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


def push_offline(rt: Runtime, chat: Chat, sender: User, messages: list[Message], now: datetime) -> None:
    """Push to members with no connected socket who did not mute the group: one batch per send."""
    others = [p for p in chat.participants if p != sender.id and not chat.muted_for(p, now)]
    online = rt.presence.online_among([str(p) for p in others])
    offline = [p for p in others if str(p) not in online]
    if offline:
        rt.push.notify_group_messages(sender, chat.name or "", offline, messages)


def receipts(
    rt: Runtime,
    chat: Chat | None,
    reader: User,
    read_by_sender: dict[ObjectId, list[ObjectId]],
    read_at: datetime,
    status_changed: list[Message],
) -> None:
    """One reader's move: `messages-read` to each sender whose messages they read, and `message-status`
    to the sender of each message whose aggregate status moved; all as one change."""
    outgoing = [
        Outgoing(
            sender_id,
            "messages-read",
            {
                "chatId": str(chat.id) if chat is not None else None,
                "readerId": str(reader.id),
                "messageIds": [str(i) for i in ids],
                "readAt": iso(read_at),
            },
        )
        for sender_id, ids in read_by_sender.items()
    ]
    outgoing += [
        Outgoing(
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
        for message in status_changed
    ]
    if outgoing:
        rt.notifier.to_users(outgoing)


def typing(rt: Runtime, me: User, chat: Chat, started: bool) -> None:
    for user_id in chat.participants:
        if user_id != me.id:
            rt.notifier.to_user(
                user_id, "typing" if started else "stop-typing", {"from": str(me.id), "chatId": str(chat.id)}
            )


def group_pin_changed(rt: Runtime, me: User, chat: Chat, pinned: bool) -> None:
    rt.notifier.to_user(me.id, "chat-pinned" if pinned else "chat-unpinned", {"chatId": str(chat.id), "userId": None})


def chat_cleared(rt: Runtime, me: User, chat: Chat) -> None:
    rt.notifier.to_user(me.id, "chat-cleared", {"chatId": str(chat.id)})
