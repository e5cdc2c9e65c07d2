"""Who may see, edit, delete, react to, quote and forward a message: each rule once, for any kind of chat.

A message belongs to a chat; what counts is being one of that chat's participants, never "the other
user" of a pair. Blocks apply between the participants of a direct chat only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from bson import ObjectId

from chatbox.chats.rules import can_see, ensure_member, sees_chat
from chatbox.errors import ApiError, bad_request, forbidden, not_found
from chatbox.models import Chat, Message, User
from chatbox.models.ids import parse_object_id, utcnow
from chatbox.users.rules import ensure_not_blocked, is_blocked_between


def message_not_found() -> ApiError:
    return not_found("No such message.", "message_not_found")


def sees_message(user_id: ObjectId, chat: Chat, message: Message) -> bool:
    """A participant sees a message of their chat unless they cleared past it or deleted it for themselves;
    a group's member (or former member) only what was sent while they were in it."""
    if chat.is_group:
        member = chat.member(user_id)
        if member is None or not member.saw(message.id) or not sees_chat(user_id, chat):
            return False
    elif user_id not in chat.participants:
        return False
    if message.hidden_from(user_id):
        return False
    mark = chat.cleared_mark_for(user_id)
    return mark is None or message.id > mark


def participant_message(me: User, message_id: str) -> tuple[Message, Chat]:
    """A message of one of my chats (seen by me or not); anything else is 404, so that nobody learns
    whether a message of someone else's chat exists."""
    oid = parse_object_id(message_id)
    message = Message.objects(id=oid).first() if oid else None
    chat = Chat.objects(id=message.chat_id).first() if message else None
    if message is None or chat is None or not can_see(me, chat):
        raise message_not_found()
    if chat.is_group and not sees_message(me.id, chat, message):
        raise message_not_found()  # sent before I joined, or after I left
    return message, chat


def visible_message(me: User, message_id: str) -> tuple[Message, Chat]:
    """A message I can see (not cleared, not deleted for me); 404 `message_not_found` otherwise."""
    message, chat = participant_message(me, message_id)
    if not sees_message(me.id, chat, message):
        raise message_not_found()
    return message, chat


def ensure_sender(me: User, message: Message) -> None:
    """Only a message's sender changes it for everyone; nobody changes a system message."""
    if message.system or message.sender_id != me.id:
        raise forbidden("Only the sender can change this message.", "not_sender")


def ensure_not_system(message: Message) -> None:
    """A group's system messages are records: nobody reacts to or forwards them (edits: `not_sender`)."""
    if message.system:
        raise forbidden("System messages cannot be reacted to or forwarded.", "system_message")


def ensure_not_deleted(message: Message) -> None:
    if message.deleted_at is not None:
        raise ApiError(409, "This message was deleted.", "message_deleted")


def _within(message: Message, window: timedelta) -> bool:
    return bool(window) and utcnow() - message.created_at <= window


def ensure_edit_window(config: dict[str, object], message: Message) -> None:
    minutes = int(str(config["EDIT_WINDOW_MINUTES"]))
    if not _within(message, timedelta(minutes=minutes)):
        raise forbidden(
            f"Messages can be edited for {minutes} minutes after sending." if minutes else "Editing is turned off.",
            "edit_window_passed",
        )


def ensure_delete_window(config: dict[str, object], message: Message) -> None:
    hours = int(str(config["DELETE_WINDOW_HOURS"]))
    if not _within(message, timedelta(hours=hours)):
        raise forbidden(
            f"Messages can be deleted for everyone for {hours} hours after sending."
            if hours
            else "Deleting for everyone is turned off.",
            "delete_window_passed",
        )


def direct_partners(me: User, chat: Chat) -> list[User]:
    """The other participants of a direct chat, whose blocks apply to what I do in it."""
    others = [p for p in chat.participants if p != me.id]
    return list(User.objects(id__in=others))


def ensure_chat_open(me: User, chat: Chat) -> None:
    """Nothing new goes into a direct chat while either side blocks the other (403 `blocked`), nor into a
    group I am no longer a member of (403 `not_a_member`)."""
    if chat.is_group:
        ensure_member(me, chat)
        return
    for other in direct_partners(me, chat):
        ensure_not_blocked(me, other)


def ensure_can_send_to_chat(me: User, chat: Chat) -> User:
    """The sending rules for an existing chat given by id: mine (else 404 `chat_not_found`), the
    other participant still active (404 `user_not_found`), no block (403 `blocked`). Returns that
    participant (the receiver of a direct chat)."""
    if me.id not in chat.participants:
        raise not_found("No such chat.", "chat_not_found")
    partners = direct_partners(me, chat)
    if len(partners) != 1 or not partners[0].can_sign_in:
        raise not_found("No such user.", "user_not_found")
    ensure_not_blocked(me, partners[0])
    return partners[0]


def receipt_may_pass(reader: User, sender: User | None) -> bool:
    """No receipt (delivered or read) crosses a block, and a message's status is one for both sides: while
    either blocks the other, what `reader` got from `sender` keeps its status until the block ends."""
    return sender is not None and not is_blocked_between(reader, sender)


def clean_text(config: Mapping[str, Any], text: str | None, has_attachments: bool) -> str:
    """A message's text as stored: trimmed, at most MESSAGE_TEXT_MAX characters, and not empty unless
    the message carries an attachment."""
    text = (text or "").strip()
    limit = config["MESSAGE_TEXT_MAX"]
    if len(text) > limit:
        raise bad_request(f"Text may be at most {limit} characters.", "text_too_long")
    if not text and not has_attachments:
        raise bad_request("A message needs text or an attachment.", "empty_message")
    return text
