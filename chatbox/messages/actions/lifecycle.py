"""Message lifecycle actions: edit, delete for everyone or for me, react, forward.

Each action checks (messages.rules), stores with one atomic conditional update (never a read, then a
write of what was read), and announces (messages.events). Every change to a message is conditional on
`deletedAt: null`, so a delete racing an edit, a reaction or a forward always wins cleanly: the
tombstone never carries text, attachments or reactions written after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId

from chatbox.chats import rules as chat_rules
from chatbox.errors import ApiError, bad_request
from chatbox.files.actions import delete_stored_files
from chatbox.messages import events, replies, rules
from chatbox.messages.actions.send import announce_direct, announce_group, create_chat
from chatbox.messages.emoji import is_reaction_emoji
from chatbox.messages.presenting import newest_shown
from chatbox.messages.queries import find_chat
from chatbox.models import Chat, Message, User
from chatbox.models.ids import parse_object_id, utcnow
from chatbox.models.message import STATUS_READ, STATUS_SENT, files_still_attached
from chatbox.runtime import Runtime
from chatbox.users.queries import find_other_user
from chatbox.users.rules import ensure_not_blocked

DELETE_FOR = ("everyone", "me")


# --- edit -------------------------------------------------------------------------------------------


def edit_message(rt: Runtime, me: User, message_id: str, text: str) -> Message:
    """The sender changes the text, within EDIT_WINDOW_MINUTES; everyone in the chat hears of it."""
    message, chat = rules.visible_message(me, message_id)
    rules.ensure_sender(me, message)
    rules.ensure_not_deleted(message)
    rules.ensure_edit_window(rt.config, message)
    rules.ensure_chat_open(me, chat)
    text = rules.clean_text(rt.config, text, bool(message.attachments))
    if text == (message.text or ""):
        return message  # nothing changes, nobody is told
    now = utcnow()
    # One $set of the whole text: two edits at once end with one of them, never a mix.
    edited = Message.objects(id=message.id, deleted_at=None).modify(
        new=True, set__text=text, set__edited_at=now, set__updated_at=now
    )
    if edited is None:
        raise ApiError(409, "This message was deleted.", "message_deleted")
    replies.quoted_edited(edited, rt.config["REPLY_PREVIEW_CHARS"])
    events.message_updated(rt, chat, edited)
    return edited


# --- delete -----------------------------------------------------------------------------------------


def delete_message(rt: Runtime, me: User, message_id: str, scope: object) -> str:
    if scope not in DELETE_FOR:
        raise bad_request(
            "Say whom to delete the message for: ?for=everyone or ?for=me.",
            "validation_error",
            {"for": ["Must be one of: everyone, me."]},
        )
    if scope == "me":
        delete_for_me(rt, me, message_id)
    else:
        delete_for_everyone(rt, me, message_id)
    return str(scope)


def delete_for_everyone(rt: Runtime, me: User, message_id: str) -> None:
    """The sender takes a message back, within DELETE_WINDOW_HOURS: it stays as a tombstone. Allowed
    across a block (it only removes content); a second delete changes nothing."""
    message, chat = rules.visible_message(me, message_id)
    rules.ensure_sender(me, message)
    if message.deleted_at is not None:
        return
    rules.ensure_delete_window(rt.config, message)
    now = utcnow()
    before = Message.objects(id=message.id, deleted_at=None).modify(
        new=False,
        set__deleted_at=now,
        set__updated_at=now,
        set__text="",
        set__attachments=[],
        set__reactions={},
    )
    if before is None:
        return  # a delete at the same time got there first
    replies.quoted_deleted([message.id])
    file_ids = list({a.file_id for a in before.attachments})
    kept = files_still_attached(file_ids)
    delete_stored_files(rt.storage, [f for f in file_ids if f not in kept])
    before.deleted_at = now
    events.message_deleted(rt, chat, before)


def delete_for_me(rt: Runtime, me: User, message_id: str) -> None:
    """Hide a message from my own history, search, unread count and chat-list preview."""
    message, chat = rules.participant_message(me, message_id)
    changed = Message.objects(id=message.id).update_one(add_to_set__hidden_for=me.id)
    if not changed or message.hidden_from(me.id):
        return
    # My chat-list preview falls back to the newest message I still see.
    fallback = newest_shown(me, chat)
    Chat.objects(id=chat.id).update_one(
        **{f"set__preview_for__{me.id}": str(fallback.id) if fallback is not None else None}
    )
    events.message_deleted_for_me(rt, me, message)


# --- reactions --------------------------------------------------------------------------------------


@dataclass
class Reactions:
    message: Message

    def to_dict(self) -> dict[str, Any]:
        payload = self.message.to_dict()
        return {"messageId": payload["_id"], "chatId": payload["chatId"], "reactions": payload["reactions"]}


def react(rt: Runtime, me: User, message_id: str, emoji: str) -> Reactions:
    """Set my one reaction on a message (a new one replaces mine)."""
    message, chat = rules.visible_message(me, message_id)
    rules.ensure_not_system(message)
    rules.ensure_not_deleted(message)
    rules.ensure_chat_open(me, chat)
    if not is_reaction_emoji(emoji, rt.config["REACTION_MAX_CODE_POINTS"]):
        raise bad_request("emoji must be one emoji (one grapheme cluster).", "invalid_emoji")
    mine = (message.reactions or {}).get(str(me.id))
    if isinstance(mine, dict) and mine.get("emoji") == emoji:
        return Reactions(message)
    # Keyed by user: one reaction per user, set atomically, never on a tombstone.
    updated = Message.objects(id=message.id, deleted_at=None).modify(
        new=True, __raw__={"$set": {f"reactions.{me.id}": {"emoji": emoji, "at": utcnow()}}}
    )
    if updated is None:
        raise ApiError(409, "This message was deleted.", "message_deleted")
    events.message_reactions(rt, chat, updated)
    return Reactions(updated)


def unreact(rt: Runtime, me: User, message_id: str) -> Reactions:
    """Remove my reaction (none: nothing changes). Allowed across a block: it only removes."""
    message, chat = rules.visible_message(me, message_id)
    if str(me.id) not in (message.reactions or {}):
        return Reactions(message)
    updated = Message.objects(id=message.id, **{f"reactions__{me.id}__exists": True}).modify(
        new=True, __raw__={"$unset": {f"reactions.{me.id}": ""}}
    )
    if updated is None:
        message.reload()
        return Reactions(message)
    events.message_reactions(rt, chat, updated)
    return Reactions(updated)


# --- forward ----------------------------------------------------------------------------------------


@dataclass
class Target:
    key: str  # the id as the client gave it
    receiver: User | None  # None for a group
    chat: Chat | None


def _check_target(me: User, key: str, is_chat: bool) -> Target:
    if is_chat:
        oid = parse_object_id(key)
        chat = Chat.objects(id=oid).first() if oid else None
        if chat is None or (chat.is_group and not chat_rules.can_see(me, chat)):
            raise ApiError(404, "No such chat.", "chat_not_found")
        if chat.is_group:
            chat_rules.ensure_member(me, chat)  # a former member: 403 not_a_member
            return Target(key, None, chat)
        return Target(key, rules.ensure_can_send_to_chat(me, chat), chat)
    receiver = find_other_user(me, key, require_active=True)
    ensure_not_blocked(me, receiver)
    return Target(key, receiver, find_chat(me, receiver))


def _too_many_targets(limit: int) -> ApiError:
    return bad_request(
        f"Forward to 1 to {limit} targets.", "validation_error", {"to": [f"1 to {limit} targets in all."]}
    )


def _target_identity(target: Target) -> str:
    """Where a copy would go: the chat, or (no chat yet) the user it would open one with."""
    return f"chat:{target.chat.id}" if target.chat is not None else f"user:{target.receiver.id}"


def forward_message(rt: Runtime, me: User, message_id: str, to: list[str], chat_ids: list[str]) -> list[Message]:
    """Send a copy of a message I can see to 1-5 targets: all are checked first, and if any is
    refused nothing is sent. The copies share the original's files (same attachment ids and urls)."""
    # Copies are sends: while the message queue is known to be down, 503 before anything is stored.
    events.ensure_announceable(rt)
    message, _chat = rules.visible_message(me, message_id)
    rules.ensure_not_system(message)
    rules.ensure_not_deleted(message)
    wanted = [(k, False) for k in dict.fromkeys(to)] + [(k, True) for k in dict.fromkeys(chat_ids)]
    limit = rt.config["FORWARD_MAX_TARGETS"]
    # A target may be named twice (a user in `to`, their chat in `chatIds`): more names than twice the
    # limit are too many whatever they turn out to be, and are refused before any lookup.
    if not 1 <= len(wanted) <= 2 * limit:
        raise _too_many_targets(limit)
    targets: list[Target] = []
    refusals: dict[str, ApiError] = {}
    for key, is_chat in wanted:
        try:
            targets.append(_check_target(me, key, is_chat))
        except ApiError as refusal:
            refusals[key] = refusal
    # A user given in `to` and their chat given in `chatIds` are one target: one copy, counted once.
    unique: dict[str, Target] = {}
    for target in targets:
        unique.setdefault(_target_identity(target), target)
    if len(unique) + len(refusals) > limit:
        raise _too_many_targets(limit)
    if refusals:
        first = next(iter(refusals.values()))
        raise ApiError(first.status, first.message, first.code, {"targets": {k: e.code for k, e in refusals.items()}})
    for _target in unique.values():
        rt.limiter.hit(rt.config["RATELIMIT_SEND"], "send", str(me.id))
    # One copy per chat, also when the chat of a user named in `to` was opened meanwhile.
    copies: dict[ObjectId, Target] = {}
    for target in unique.values():
        if target.chat is None:
            assert target.receiver is not None
            target.chat = find_chat(me, target.receiver) or create_chat(me, target.receiver)[0]
        copies.setdefault(target.chat.id, target)
    return _store_forwards(rt, me, message, list(copies.values()))


def _store_forwards(rt: Runtime, me: User, original: Message, targets: list[Target]) -> list[Message]:
    now = utcnow()
    # Every question to shared presence first (Redis, with REDIS_URL): if one fails, nothing is stored.
    views = [
        target.receiver is not None and rt.presence.is_viewing(str(target.receiver.id), str(me.id))
        for target in targets
    ]
    stored: list[tuple[Target, Message, bool]] = []
    for target, viewing in zip(targets, views, strict=True):
        assert target.chat is not None
        # Read on arrival: a direct receiver viewing the chat; a group's sender alone in it.
        read = viewing if target.receiver is not None else target.chat.participants == [me.id]
        copy = _copy(me, target.chat, target.receiver, original, now, read)
        copy.save(force_insert=True)
        stored.append((target, copy, viewing))
    # The original may have been deleted for everyone since we read it. If so, its delete may have
    # seen our copies and kept the files for them: take the copies back and free the files ourselves.
    if Message.objects(id=original.id, deleted_at=None).count() == 0:
        _take_back(rt, [copy for _, copy, _ in stored])
        raise ApiError(409, "This message was deleted.", "message_deleted")
    for target, copy, viewing in stored:
        assert target.chat is not None
        if target.receiver is None:
            announce_group(rt, me, target.chat, [copy], now)
            continue
        announce_direct(rt, me, target.receiver, target.chat, [copy], viewing, now)
    return [copy for _, copy, _ in stored]


def _copy(me: User, chat: Chat, receiver: User | None, original: Message, now: datetime, read: bool) -> Message:
    """A forwarded copy (stored by the caller): the original's text and shared files."""
    return Message(
        chat_id=chat.id,
        sender_id=me.id,
        receiver_id=receiver.id if receiver is not None else None,
        text=original.text or "",
        attachments=list(original.attachments),
        status=STATUS_READ if read else STATUS_SENT,
        forwarded=True,
        created_at=now,
        updated_at=now,
        delivered_at=now if read else None,
        read_at=now if read else None,
    )


def _take_back(rt: Runtime, copies: list[Message]) -> None:
    Message.objects(id__in=[c.id for c in copies]).delete()
    file_ids = list({a.file_id for c in copies for a in c.attachments})
    kept = files_still_attached(file_ids)
    delete_stored_files(rt.storage, [f for f in file_ids if f not in kept])
