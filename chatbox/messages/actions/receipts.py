"""Receipts of direct messages: delivered and read, by message, by chat, and on connect.

(A group's receipts move per-member watermarks: chats.actions; both kinds are reached through there by
message or chat id.)"""

from __future__ import annotations

from bson import ObjectId
from mongoengine import Q

from chatbox.errors import forbidden, not_found
from chatbox.messages import events, rules
from chatbox.messages.queries import visible_to
from chatbox.models import Chat, Message, User, pair_key
from chatbox.models.ids import parse_object_id, utcnow
from chatbox.models.message import STATUS_DELIVERED, STATUS_READ, STATUS_SENT
from chatbox.runtime import Runtime
from chatbox.users.queries import find_other_user


def _message_addressed_to(me: User, message_id: str) -> Message:
    oid = parse_object_id(message_id)
    message = Message.objects(id=oid).first() if oid else None
    if message is None or me.id not in (message.sender_id, message.receiver_id):
        raise not_found("No such message.", "message_not_found")
    if message.receiver_id != me.id:
        raise forbidden("Only the receiver can change a message's status.", "not_receiver")
    return message


def mark_read(rt: Runtime, me: User, message_id: str) -> int:
    """Mark this message and every earlier unread one from the same sender in its chat as read."""
    message = _message_addressed_to(me, message_id)
    chat = Chat.objects.get(id=message.chat_id)
    return read_up_to(rt, me, chat, message.sender_id, message.id)


def read_up_to(
    rt: Runtime, me: User, chat: Chat, sender_id: ObjectId, up_to: ObjectId, sender: User | None = None
) -> int:
    if sender is None:
        sender = User.objects(id=sender_id).first()
    if not rules.receipt_may_pass(me, sender):
        # No read receipt crosses a block, and the status is one: the messages stay unread until then.
        return 0
    query = visible_to(me, chat) & Q(receiver_id=me.id, sender_id=sender_id, status__ne=STATUS_READ, id__lte=up_to)
    ids = [m.id for m in Message.objects(query).only("id")]
    if not ids:
        return 0
    now = utcnow()
    Message.objects(id__in=ids, delivered_at=None).update(set__delivered_at=now)
    updated = Message.objects(id__in=ids, status__ne=STATUS_READ).update(
        set__status=STATUS_READ, set__read_at=now, set__updated_at=now
    )
    if updated:
        events.messages_read_ids(rt, chat, reader=me, sender_id=sender_id, message_ids=ids, read_at=now)
    return int(updated)


def mark_delivered(rt: Runtime, me: User, message_id: str) -> Message:
    """The receiver's device has the message: `sent` becomes `delivered`, never backwards, and not
    while either side blocks the other (a delivery tick is a receipt too)."""
    message = _message_addressed_to(me, message_id)
    if message.status != STATUS_SENT:
        return message
    sender = User.objects(id=message.sender_id).first()
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
