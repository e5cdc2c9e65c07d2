"""Replies: which message a send may quote, and the quoted preview that follows its edits and deletion."""

from __future__ import annotations

from bson import ObjectId

from chatbox.errors import bad_request
from chatbox.messages.rules import sees_message
from chatbox.models import Chat, Message, User
from chatbox.models.ids import parse_object_id
from chatbox.models.message import ReplyPreview


def preview_of(message: Message, chars: int) -> ReplyPreview:
    return ReplyPreview(
        message_id=message.id,
        sender_id=message.sender_id,
        text="" if message.deleted_at else (message.text or "")[:chars],
        kind=message.kind,
        deleted=message.deleted_at is not None,
    )


def quoted_message(sender: User, chat: Chat | None, reply_to: object) -> Message:
    """The message a send quotes: one of the same chat that the sender can see (a deleted one shows
    as deleted); anything else, a malformed id included, is 400 `invalid_reply`."""
    oid = parse_object_id(reply_to) if isinstance(reply_to, str) else None
    message = Message.objects(id=oid, chat_id=chat.id).first() if oid and chat is not None else None
    if message is None or chat is None or not sees_message(sender.id, chat, message):
        raise bad_request("replyTo must be a message of this chat that you can see.", "invalid_reply")
    return message


def catch_up(reply: Message, quoted_id: ObjectId, chars: int) -> None:
    """After storing a reply: if the quoted message changed between our read and our insert, take its
    state now (the edit or delete that changed it may have updated the previews before ours existed)."""
    stored = reply.reply_to
    current = Message.objects(id=quoted_id).first()
    if current is None or stored is None:
        return
    fresh = preview_of(current, chars)
    if (fresh.text, fresh.deleted) == (stored.text, stored.deleted):
        return
    # Only over the preview we wrote: a later edit or delete that already reached it wins.
    Message.objects(id=reply.id, reply_to__text=stored.text, reply_to__deleted=stored.deleted).update_one(
        set__reply_to__text=fresh.text, set__reply_to__deleted=fresh.deleted
    )
    reply.reply_to = fresh


def quoted_edited(message: Message, chars: int) -> None:
    """The quoted message's text changed: every reply's preview shows the new text (not once it is deleted)."""
    Message.objects(reply_to__message_id=message.id, reply_to__deleted=False).update(
        set__reply_to__text=(message.text or "")[:chars]
    )


def quoted_deleted(message_ids: list[ObjectId]) -> None:
    """Quoted messages deleted (for everyone, or for good): their previews show deleted and no text."""
    if message_ids:
        Message.objects(reply_to__message_id__in=message_ids).update(
            set__reply_to__text="", set__reply_to__deleted=True, set__reply_to__kind="text"
        )
