"""Database reads and writes for chats by id and for groups. Every query here runs on an index:
chats by `_id`, `participants` or `formerMembers`; messages by `chatId` (+ `_id`); receipt marks by
`chatId` (+ `upTo`)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bson import ObjectId
from mongoengine import Q
from pymongo import ReturnDocument

from chatbox.models import Chat, Message, ReceiptMark, StoredFile, User
from chatbox.models.chat import KIND_GROUP, ChatMember, ChatState
from chatbox.models.message import files_still_attached, set_read
from chatbox.models.receipt import MARK_DELIVERED, MARK_READ


def chat_by_id(chat_id: ObjectId) -> Chat | None:
    return Chat.objects(id=chat_id).first()


def member_bounds(me: User, chat: Chat) -> Q:
    """The messages of `chat` that `me` may see at all: a group member's join to leave, after their clear."""
    query = Q(chat_id=chat.id)
    if chat.is_group:
        member = chat.member(me.id)
        if member is None:
            return query & Q(id=None)
        query &= Q(id__gte=member.since_id)
        if member.until_id is not None:
            query &= Q(id__lte=member.until_id)
    mark = chat.cleared_mark_for(me.id)
    if mark is not None:
        query &= Q(id__gt=mark)
    return query


def can_see_message(me: User, chat: Chat, message: Message) -> bool:
    """Is this message of `chat` in my history (within my membership, after my clear)?"""
    if chat.is_group:
        member = chat.member(me.id)
        if member is None or not member.saw(message.id):
            return False
    mark = chat.cleared_mark_for(me.id)
    return mark is None or message.id > mark


def message_in_chat(chat: Chat, message_id: ObjectId) -> Message | None:
    return Message.objects(id=message_id, chat_id=chat.id).first()


def group_unread_condition(me: User, chat: Chat) -> dict[str, Any] | None:
    """The `$match` clause of my unread messages in a group: after my read watermark (and my join and
    clear marks), up to my leave, not mine, not system messages. None when nothing can be unread."""
    member = chat.member(me.id)
    if member is None:
        return None
    floor = chat.read_mark(member)
    mark = chat.cleared_mark_for(me.id)
    if mark is not None and mark > floor:
        floor = mark
    bounds: dict[str, Any] = {"$gt": floor}
    if member.until_id is not None:
        bounds["$lte"] = member.until_id
    return {
        "chatId": chat.id,
        "_id": bounds,
        "senderId": {"$ne": me.id},
        "system": None,
        # deleted for everyone, or for me: no longer unread
        "deletedAt": None,
        "hiddenFor": {"$ne": me.id},
    }


def unread_for_each(chat: Chat, user_ids: list[ObjectId]) -> dict[ObjectId, int]:
    """Each member's unread count in one group: one query over the messages after the lowest floor."""
    floors: dict[ObjectId, tuple[ObjectId, ObjectId | None]] = {}
    for user_id in user_ids:
        member = chat.member(user_id)
        if member is None:
            continue
        floor = chat.read_mark(member)
        mark = chat.cleared_mark_for(user_id)
        floors[user_id] = (max(floor, mark) if mark is not None else floor, member.until_id)
    if not floors:
        return {}
    lowest = min(f for f, _ in floors.values())
    rows = Message._get_collection().find(
        {"chatId": chat.id, "_id": {"$gt": lowest}, "system": None, "deletedAt": None},
        {"_id": 1, "senderId": 1, "hiddenFor": 1},
    )
    found = [(r["_id"], r["senderId"], set(r.get("hiddenFor") or ())) for r in rows]
    counts = {}
    for user_id, (floor, until) in floors.items():
        counts[user_id] = sum(
            1
            for mid, sender, hidden in found
            if mid > floor and sender != user_id and user_id not in hidden and (until is None or mid <= until)
        )
    return counts


def listed_chats_query(me: User) -> Q:
    """Every chat in my list: the chats I am in (either kind) and groups I left but did not clear."""
    return (Q(participants=me.id) | Q(former_members=me.id)) & Q(last_message_id__exists=True)


def group_name_matches(text: str) -> Q:
    return Q(kind=KIND_GROUP) & Q(name=re.compile(re.escape(text), re.IGNORECASE))


def groups_of(user_id: ObjectId) -> list[Chat]:
    """The groups `user_id` is a current member of."""
    return list(Chat.objects(participants=user_id, kind=KIND_GROUP))


def save_membership(chat: Chat, members: list[ChatMember], **changes: Any) -> bool:
    """Replace the member list (and `changes`) if nobody changed it since `chat` was read."""
    participants = [m.user_id for m in members if m.is_current]
    updated = Chat.objects(id=chat.id, version=chat.version).update_one(
        set__members=members, set__participants=participants, inc__version=1, **changes
    )
    return bool(updated)


def _summary(message: Message) -> dict[str, Any]:
    # $max, so that two sends racing never move the summary back to the older message.
    return {"$max": {"lastMessageId": message.id, "lastMessageAt": message.created_at}}


def record_last_message(chat_id: ObjectId, message: Message) -> None:
    """Move the chat's summary to `message` (one update, no query set: a send's hot path)."""
    Chat._get_collection().update_one({"_id": chat_id}, _summary(message))


def record_last_message_before(chat_id: ObjectId, message: Message) -> ChatState | None:
    """`record_last_message`, returning the chat's state as it was just before (None: no such chat)."""
    before = Chat._get_collection().find_one_and_update(
        {"_id": chat_id}, _summary(message), projection=ChatState.FIELDS, return_document=ReturnDocument.BEFORE
    )
    return ChatState.from_raw(before) if before is not None else None


def advance_marks(
    chat: Chat, user_id: ObjectId, field: str, up_to: ObjectId, at: datetime
) -> tuple[ObjectId | None, Chat | None]:
    """Move a member's watermark (`read_up_to` or `delivered_up_to`) up to `up_to`: the value before,
    and the chat as it is after (None when the chat is gone). Records the move for receipts."""
    before = chat.read_up_to if field == "read_up_to" else chat.delivered_up_to
    previous = before.get(str(user_id))
    after = Chat.objects(id=chat.id).modify(new=True, **{f"max__{field}__{user_id}": up_to})
    if after is None:
        return previous, None
    if previous is None or up_to > previous:
        kind = MARK_READ if field == "read_up_to" else MARK_DELIVERED
        ReceiptMark(chat_id=chat.id, user_id=user_id, kind=kind, up_to=up_to, at=at).save()
    return previous, after


def advance_delivered_in_many(user_id: ObjectId, up_to: dict[ObjectId, ObjectId], at: datetime) -> None:
    """Move my delivery watermark in several groups at once (one update, one insert): to the newest of
    their last messages, as ids grow with time; a message stored later in one of them reaches my
    connected sockets live."""
    if not up_to:
        return
    newest = max(up_to.values())
    Chat.objects(id__in=list(up_to)).update(**{f"max__delivered_up_to__{user_id}": newest})
    ReceiptMark.objects.insert(
        [ReceiptMark(chat_id=c, user_id=user_id, kind=MARK_DELIVERED, up_to=newest, at=at) for c in up_to],
        load_bulk=False,
    )


def set_status(ids: list[ObjectId], status: str, at: datetime) -> None:
    """The aggregate status of group messages moved (never back)."""
    if not ids:
        return
    if status == "read":
        set_read(ids, at)
    else:
        Message.objects(id__in=ids, status="sent").update(
            set__status="delivered", set__delivered_at=at, set__updated_at=at
        )


def delete_group_data(chat: Chat) -> tuple[list[ObjectId], list[ObjectId]]:
    """Delete a group's messages, receipt marks and document. Returns the ids of the deleted messages,
    and of the files uploaded to it or carried by its messages that no other message carries (forwards
    elsewhere share files)."""
    gone = list(Message.objects(chat_id=chat.id).only("id", "attachments"))
    file_ids = {a.file_id for m in gone for a in m.attachments}
    file_ids |= {s.id for s in StoredFile.objects(chat_id=chat.id).only("id")}
    Message.objects(chat_id=chat.id).delete()
    ReceiptMark.objects(chat_id=chat.id).delete()
    Chat.objects(id=chat.id).delete()
    kept = files_still_attached(list(file_ids))
    return [m.id for m in gone], [f for f in file_ids if f not in kept]


# --- reads and writes the actions and presenting need ---------------------------------------------------


def users_by_id(user_ids: list[ObjectId], *fields: str) -> dict[ObjectId, User]:
    query = User.objects(id__in=list(user_ids))
    return {u.id: u for u in (query.only(*fields) if fields else query)}


def messages_by_id(message_ids: list[ObjectId]) -> dict[ObjectId, Message]:
    return {m.id: m for m in Message.objects(id__in=list(message_ids))} if message_ids else {}


def page_of_messages(query: Q, limit: int) -> list[Message]:
    """Up to `limit + 1` messages matching `query`, newest first (index: chatId, -_id)."""
    return list(Message.objects(query).order_by("-id").limit(limit + 1))


def store_messages(chat_id: ObjectId, messages: list[Message]) -> None:
    """Insert messages of one change (one round trip) and move the chat's summary to the last."""
    Message.objects.insert(messages, load_bulk=False)
    record_last_message(chat_id, messages[-1])


def remove_chat(chat_id: ObjectId) -> None:
    Chat.objects(id=chat_id).delete()


def first_send(sender_id: ObjectId, client_message_id: str) -> list[Message]:
    """The message(s) a send with this clientMessageId stored, oldest first (none: [])."""
    first = Message.objects(sender_id=sender_id, client_message_id=client_message_id).first()
    if first is None:
        return []
    if first.batch_id is None:
        return [first]
    return list(Message.objects(batch_id=first.batch_id).order_by("id"))


def attach_files(file_ids: list[ObjectId], chat_id: ObjectId) -> None:
    StoredFile.objects(id__in=file_ids).update(set__chat_id=chat_id)


def clear_for(chat_id: ObjectId, user_id: ObjectId, up_to: ObjectId | None, unlist: bool) -> None:
    """My clear mark moves to `up_to`; `unlist`: the group leaves my list (a former member's clear)."""
    changes: dict[str, Any] = {}
    if up_to is not None:
        changes[f"set__cleared_up_to__{user_id}"] = str(up_to)
    if unlist:
        changes["pull__former_members"] = user_id
    if changes:
        Chat.objects(id=chat_id).update_one(**changes)


def set_group_pin(user_id: ObjectId, chat_id: ObjectId, pinned: bool) -> None:
    operator = "add_to_set" if pinned else "pull"
    User.objects(id=user_id).update_one(**{f"{operator}__pinned_group_chats": chat_id})


def set_mute(chat_id: ObjectId, user_id: ObjectId, until: datetime | None) -> None:
    """Mute until then (MUTED_FOREVER: until unmuted), or unmute with None."""
    if until is None:
        Chat.objects(id=chat_id).update_one(**{f"unset__muted_until__{user_id}": True})
    else:
        Chat.objects(id=chat_id).update_one(**{f"set__muted_until__{user_id}": until})
