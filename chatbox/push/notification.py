"""What a phone shows for a new message: independent of how it is sent."""

from __future__ import annotations

from dataclasses import dataclass

from chatbox.models import Message, User

PHOTO_BODY = "📷 Photo"
FILE_BODY = "📎 File"


@dataclass(frozen=True)
class Notification:
    title: str
    body: str
    data: dict[str, str]
    collapse_key: str


def notification_body(message: Message, max_chars: int) -> str:
    text = (message.text or "").strip()
    if text:
        return text if len(text) <= max_chars else text[: max_chars - 1] + "…"
    if any(a.kind == "image" for a in message.attachments):
        return PHOTO_BODY
    return FILE_BODY


def notification_for(sender: User, message: Message, max_chars: int) -> Notification:
    return Notification(
        title=sender.full_name,
        body=notification_body(message, max_chars),
        data={
            "type": "message",
            "chatId": str(message.chat_id),
            "messageId": str(message.id),
            "senderId": str(message.sender_id),
        },
        collapse_key=f"chat-{message.chat_id}",
    )


def group_notification_for(sender: User, group_name: str, message: Message, max_chars: int) -> Notification:
    """A group message: title = the group's name, body = "Sender name: text" (or the photo / file wording)."""
    return Notification(
        title=group_name,
        body=notification_body_with_prefix(f"{sender.full_name}: ", message, max_chars),
        data={
            "type": "message",
            "chatId": str(message.chat_id),
            "messageId": str(message.id),
            "senderId": str(message.sender_id),
            "chatKind": "group",
        },
        collapse_key=f"chat-{message.chat_id}",
    )


def notification_body_with_prefix(prefix: str, message: Message, max_chars: int) -> str:
    """The body cut to `max_chars` after the sender's name (the name is never cut)."""
    return prefix + notification_body(message, max_chars)
