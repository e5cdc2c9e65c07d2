"""Receipts: delivered and read, for direct messages (a status per message) and in groups (per-member
watermarks and an aggregate status per message), by message, by chat, on connect; and who has received
and read one of my messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from mongoengine import Q

from chatbox.chats import queries as chat_queries
from chatbox.chats import rules as chat_rules
from chatbox.errors import forbidden, not_found
from chatbox.messages import events, rules
from chatbox.messages import queries as message_queries
from chatbox.messages.queries import visible_to
from chatbox.models import Chat, Message, User, pair_key
from chatbox.models.chat import ChatMember, ChatState
from chatbox.models.ids import iso, parse_object_id, utcnow
from chatbox.models.message import STATUS_DELIVERED, STATUS_READ, STATUS_SENT, set_read
from chatbox.runtime import Runtime
from chatbox.users.queries import blocks_of, find_other_user


def _message_for_receipt(me: User, message_id: str) -> tuple[Message, Chat | None]:
    """The message a receipt names, read once: a direct one addressed to me (and no chat), or a group's
    that is in my history and not mine (and its chat)."""
    oid = parse_object_id(message_id)
    message = message_queries.message_for_receipt(oid) if oid else None
    if message is not None and message.receiver_id is None:
        chat = chat_queries.chat_by_id(message.chat_id)
        if chat is not None and chat.is_group:
            if not chat_rules.can_see(me, chat) or not chat_queries.can_see_message(me, chat, message):
                raise not_found("No such message.", "message_not_found")
            if message.sender_id == me.id:
                raise forbidden("Only the receiver can change a message's status.", "not_receiver")
            return message, chat
    if message is None or me.id not in (message.sender_id, message.receiver_id):
        raise not_found("No such message.", "message_not_found")
    if message.receiver_id != me.id:
        raise forbidden("Only the receiver can change a message's status.", "not_receiver")
    return message, None


def _mark_direct_read(rt: Runtime, me: User, message: Message) -> int:
    """Mark this message and every earlier unread one from the same sender in its chat as read."""
    chat = chat_queries.chat_by_id(message.chat_id)
    if chat is None:  # a direct chat is never deleted
        raise not_found("No such message.", "message_not_found")
    return read_up_to(rt, me, chat, message.sender_id, message.id)


def read_up_to(
    rt: Runtime, me: User, chat: Chat | ChatState, sender_id: ObjectId, up_to: ObjectId, sender: User | None = None
) -> int:
    if sender is None:
        sender = blocks_of(sender_id)
    if not rules.receipt_may_pass(me, sender):
        # No read receipt crosses a block, and the status is one: the messages stay unread until then.
        return 0
    query = visible_to(me, chat) & Q(receiver_id=me.id, sender_id=sender_id, status__ne=STATUS_READ, id__lte=up_to)
    ids = message_queries.ids_of(query)
    if not ids:
        return 0
    now = utcnow()
    updated = set_read(ids, now)
    if updated:
        events.messages_read_ids(rt, chat, reader=me, sender_id=sender_id, message_ids=ids, read_at=now)
    return int(updated)


def _mark_direct_delivered(rt: Runtime, me: User, message: Message) -> Message:
    """The receiver's device has the message: `sent` becomes `delivered`, never backwards, and not
    while either side blocks the other (a delivery tick is a receipt too)."""
    if message.status != STATUS_SENT:
        return message
    sender = blocks_of(message.sender_id)
    if not rules.receipt_may_pass(me, sender):
        return message
    now = utcnow()
    changed = Message.objects(id=message.id, status=STATUS_SENT).update_one(
        set__status=STATUS_DELIVERED, set__delivered_at=now, set__updated_at=now
    )
    if changed:
        message.status, message.delivered_at, message.updated_at = STATUS_DELIVERED, now, now
        events.message_status(rt, message)
    elif message.status == STATUS_SENT:
        message.reload()  # another call changed it between our read and our update
    return message


def deliver_pending(rt: Runtime, me: User) -> int:
    """On connect: what waits for me in `sent` becomes `delivered`, and each sender hears of it
    (not across a block: those wait until it ends)."""
    waiting = list(Message.objects(receiver_id=me.id, status=STATUS_SENT).only("id", "sender_id"))
    if not waiting:
        return 0
    senders = {u.id: u for u in User.objects(id__in=list({m.sender_id for m in waiting}))}
    ids = [m.id for m in waiting if rules.receipt_may_pass(me, senders.get(m.sender_id))]
    if not ids:
        return 0
    now = utcnow()
    Message.objects(id__in=ids, status=STATUS_SENT).update(
        set__status=STATUS_DELIVERED, set__delivered_at=now, set__updated_at=now
    )
    for message in Message.objects(id__in=ids, status=STATUS_DELIVERED, delivered_at=now):
        events.message_status(rt, message)
    return len(ids)


def read_chat(rt: Runtime, me: User, other_id: str) -> int:
    """I opened my chat with `other_id`: everything they sent me there is read."""
    other = find_other_user(me, other_id)
    chat = Chat.objects(pair_key=pair_key(me.id, other.id)).first()
    if chat is None:
        return 0
    newest = Message.objects(chat_id=chat.id, receiver_id=me.id, status__ne=STATUS_READ).order_by("-id").only("id")
    newest_unread = newest.first()
    if newest_unread is None:
        return 0
    return read_up_to(rt, me, chat, other.id, newest_unread.id)


# --- groups: per-member watermarks -------------------------------------------------------------------------


def move_watermark(rt: Runtime, me: User, chat: Chat, up_to: ObjectId, read: bool) -> int:
    """Move my read (or delivery) watermark in a group up to `up_to`; update the aggregate status of what
    it passes and tell the senders. Returns how many messages stopped being unread for me."""
    member = chat.member(me.id)
    if member is None:
        return 0
    if member.until_id is not None and up_to > member.until_id:
        up_to = member.until_id
    field_name = "read_up_to" if read else "delivered_up_to"
    old = chat.read_mark(member) if read else chat.delivered_mark(member)
    if up_to <= old:
        return 0
    now = utcnow()
    previous, after = chat_queries.advance_marks(chat, me.id, field_name, up_to, now)
    if after is None:
        return 0
    if isinstance(previous, ObjectId) and previous > old:
        old = previous  # another call moved it meanwhile: count from there
    if up_to <= old:
        return 0
    passed = message_queries.messages_after(after, me, old, up_to)
    if read:
        mark = after.cleared_mark_for(me.id)
        unread = [m for m in passed if mark is None or m.id > mark]
    else:
        unread = []
    changed = _update_aggregates(after, passed, now)
    by_sender: dict[ObjectId, list[ObjectId]] = {}
    if read:
        for message in passed:
            by_sender.setdefault(message.sender_id, []).append(message.id)
    events.receipts(rt, after, me, by_sender, now, changed)
    return len(unread)


def _recipients(chat: Chat, message: Message) -> list[ChatMember]:
    """Members at send time, except the sender."""
    return [m for m in chat.members if m.user_id != message.sender_id and m.saw(message.id)]


def _update_aggregates(chat: Chat, messages: list[Message], now: datetime) -> list[Message]:
    """`sent` until every recipient has it delivered, `read` once all have read it. Returns the messages
    whose aggregate moved (their senders are to hear of it)."""
    to_read, to_deliver = [], []
    for message in messages:
        if message.status == STATUS_READ:
            continue
        recipients = _recipients(chat, message)
        if all(chat.read_mark(r) >= message.id for r in recipients):
            to_read.append(message)
        elif message.status == STATUS_SENT and all(chat.delivered_mark(r) >= message.id for r in recipients):
            to_deliver.append(message)
    chat_queries.set_status([m.id for m in to_read], STATUS_READ, now)
    chat_queries.set_status([m.id for m in to_deliver], STATUS_DELIVERED, now)
    for message in to_read:
        message.delivered_at = message.delivered_at or now
        message.status, message.read_at = STATUS_READ, now
    for message in to_deliver:
        message.status, message.delivered_at = STATUS_DELIVERED, now
    return [*to_read, *to_deliver]


def read_in_chat(rt: Runtime, me: User, chat_id: str, message_id: str) -> int:
    """PUT /api/chats/:id/read {upTo}, for either kind."""
    chat = chat_rules.visible_chat(me, chat_id)
    message = chat_rules.visible_message(me, chat, message_id)
    if not chat.is_group:
        return read_up_to(rt, me, chat, chat.other_participant(me.id), message.id)
    return move_watermark(rt, me, chat, message.id, read=True)


def mark_read(rt: Runtime, me: User, message_id: str) -> int:
    """PUT /api/messages/read/:messageId and socket `message-read`, for either kind."""
    message, chat = _message_for_receipt(me, message_id)
    if chat is None:
        return _mark_direct_read(rt, me, message)
    return move_watermark(rt, me, chat, message.id, read=True)


def mark_delivered(rt: Runtime, me: User, message_id: str) -> Message:
    """Socket `message-delivered`, for either kind."""
    message, chat = _message_for_receipt(me, message_id)
    if chat is None:
        return _mark_direct_delivered(rt, me, message)
    move_watermark(rt, me, chat, message.id, read=False)
    message.reload()
    return message


def deliver_pending_in_groups(rt: Runtime, me: User) -> int:
    """On connect: everything in my groups is delivered to me; senders hear of aggregate changes. A
    fixed number of queries, whatever the number of groups or messages."""
    chats = chat_queries.groups_of(me.id)
    if not chats:
        return 0
    waiting = message_queries.waiting_in_groups(me, chats)
    now = utcnow()
    marks = {}
    for chat in chats:
        member = chat.member(me.id)
        newest = chat.last_message_id
        if member is not None and newest is not None and newest > chat.delivered_mark(member):
            marks[chat.id] = newest
    chat_queries.advance_delivered_in_many(me.id, marks, now)
    if marks:
        newest = max(marks.values())
        for chat in chats:
            if chat.id in marks:
                chat.delivered_up_to[str(me.id)] = newest
    by_chat = {c.id: c for c in chats}
    changed: list[Message] = []
    for chat_id in {m.chat_id for m in waiting}:
        changed += _update_aggregates(by_chat[chat_id], [m for m in waiting if m.chat_id == chat_id], now)
    events.receipts(rt, None, me, {}, now, changed)
    return len(waiting)


def message_receipts(me: User, chat_id: str, message_id: str) -> list[dict[str, Any]]:
    chat = chat_rules.visible_chat(me, chat_id)
    message = chat_rules.visible_message(me, chat, message_id)
    chat_rules.ensure_sender(me, message)
    if not chat.is_group:
        return [
            {
                "userId": str(message.receiver_id),
                "deliveredAt": iso(message.delivered_at),
                "readAt": iso(message.read_at),
            }
        ]
    if message.system:
        return []
    times = message_queries.receipt_times(chat.id, message.id)
    rows = []
    for member in _recipients(chat, message):
        read_at = times.get((member.user_id, "read")) if chat.read_mark(member) >= message.id else None
        delivered_at = times.get((member.user_id, "delivered"))
        if read_at is not None and (delivered_at is None or read_at < delivered_at):
            delivered_at = read_at
        rows.append({"userId": str(member.user_id), "deliveredAt": iso(delivered_at), "readAt": iso(read_at)})
    return rows
