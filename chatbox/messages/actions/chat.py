"""What I do to my direct chat with another user as a whole: open and close it on a socket, show typing
in it, clear it."""

from __future__ import annotations

from chatbox.chats import events as chat_events
from chatbox.errors import forbidden
from chatbox.files.actions import delete_stored_files
from chatbox.messages import events, replies
from chatbox.messages.actions.receipts import read_chat
from chatbox.messages.queries import chat_with, find_chat
from chatbox.models import Chat, Message, User
from chatbox.models.message import files_still_attached
from chatbox.runtime import Runtime
from chatbox.users.queries import find_other_user
from chatbox.users.rules import ensure_not_blocked


def open_chat(rt: Runtime, me: User, other_id: str, sid: str) -> int:
    """A socket of mine now shows my chat with `other_id`: read what waits there, and what arrives."""
    other = find_other_user(me, other_id)
    rt.presence.set_viewing(str(me.id), sid, str(other.id))
    return read_chat(rt, me, str(other.id))


def close_chat(rt: Runtime, me: User, other_id: str, sid: str) -> None:
    """That socket stopped showing my chat with `other_id` (a leave for another chat changes nothing)."""
    other = find_other_user(me, other_id)
    rt.presence.stop_viewing(str(me.id), sid, str(other.id))


def send_typing(rt: Runtime, me: User, other_id: str, started: bool) -> None:
    """Tell `other_id` I am (or stopped) typing: only someone I share a chat with, and at most
    RATELIMIT_TYPING a user, all my sockets together (counted across processes with REDIS_URL)."""
    rt.limiter.hit(rt.config["RATELIMIT_TYPING"], "typing", str(me.id))
    other = find_other_user(me, other_id, require_active=True)
    ensure_not_blocked(me, other)
    chat = find_chat(me, other)
    if chat is None or chat.last_message_id is None:
        raise forbidden("You can only show typing to someone you share a chat with.", "no_chat")
    events.typing(rt, me, chat, started)


def clear_chat(rt: Runtime, me: User, other_id: str) -> bool:
    """Hide the chat's history from me; once both sides cleared it, delete it for good."""
    _other, chat = chat_with(me, other_id)
    if chat is None or chat.last_message_id is None:
        return False
    mark = chat.last_message_id
    Chat.objects(id=chat.id).update_one(**{f"set__cleared_up_to__{me.id}": str(mark)})
    chat_events.chat_cleared(rt, me, chat)
    chat.reload()
    marks = [chat.cleared_mark_for(p) for p in chat.participants]
    if any(m is None for m in marks):
        return False
    both_cleared_up_to = min(m for m in marks if m is not None)
    doomed = Message.objects(chat_id=chat.id, id__lte=both_cleared_up_to)
    gone = list(doomed.only("id", "attachments"))
    file_ids = list({a.file_id for m in gone for a in m.attachments})
    deleted = doomed.delete()
    # Replies elsewhere that quote them show them as deleted; files forwarded elsewhere stay.
    replies.quoted_deleted([m.id for m in gone])
    kept = files_still_attached(file_ids)
    delete_stored_files(rt.storage, [f for f in file_ids if f not in kept])
    return bool(deleted)
