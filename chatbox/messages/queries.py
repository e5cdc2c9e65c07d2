"""Reading messages and chats: history and search (by the other user or by chat id), the chat list,
contacts, finding a direct chat, and what receipts read. Nothing here writes."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from mongoengine import Q

from chatbox.chats import queries as chat_queries
from chatbox.chats import rules as chat_rules
from chatbox.errors import ApiError, bad_request
from chatbox.messages.presenting import chat_items
from chatbox.models import Chat, Message, ReceiptMark, User, pair_key
from chatbox.models.chat import KIND_GROUP, ChatState
from chatbox.models.ids import iso, parse_object_id
from chatbox.pagination import Page, decode_cursor, encode_cursor
from chatbox.runtime import Runtime
from chatbox.users.queries import find_other_user, name_or_email_containing
from config import SEARCH_QUERY_MAX


def find_chat(a: User, b: User) -> Chat | None:
    return Chat.objects(pair_key=pair_key(a.id, b.id)).first()


def chat_with(me: User, other_id: str) -> tuple[User, Chat | None]:
    other = find_other_user(me, other_id)
    return other, Chat.objects(pair_key=pair_key(me.id, other.id)).first()


def before_cursor(cursor: str | None) -> ObjectId | None:
    position = decode_cursor(cursor)
    if position is None:
        return None
    before = parse_object_id(str(position.get("before", "")))
    if before is None:
        raise ApiError(400, "The cursor is not valid.", "invalid_cursor")
    return before


def visible_to(me: User, chat: Chat | ChatState) -> Q:
    query = Q(chat_id=chat.id)
    mark = chat.cleared_mark_for(me.id)
    if mark is not None:
        query &= Q(id__gt=mark)
    return query


def shown_to(me: User, chat: Chat) -> Q:
    """What my history shows: not cleared by me and not deleted for me (tombstones stay)."""
    return visible_to(me, chat) & Q(hidden_for__ne=me.id)


def _search_text(text: str) -> str:
    text = text.strip()
    if not 1 <= len(text) <= SEARCH_QUERY_MAX:
        raise bad_request(f"The search text must be 1 to {SEARCH_QUERY_MAX} characters.", "invalid_query")
    return text


def history(me: User, other_id: str, limit: int, cursor: str | None) -> Page:
    """The newest page (or the page before the cursor), oldest first within the page."""
    before = before_cursor(cursor)
    _other, chat = chat_with(me, other_id)
    if chat is None:
        return Page([], None)
    query = shown_to(me, chat)
    if before is not None:
        query &= Q(id__lt=before)
    rows = list(Message.objects(query).order_by("-id").limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor({"before": str(rows[-1].id)}) if more else None
    return Page(list(reversed(rows)), next_cursor)


def search(me: User, other_id: str, text: str, limit: int, cursor: str | None) -> Page:
    """Messages whose text contains `text` literally (case-insensitive), newest first."""
    text = _search_text(text)
    before = before_cursor(cursor)
    _other, chat = chat_with(me, other_id)
    if chat is None:
        return Page([], None)
    query = shown_to(me, chat) & Q(deleted_at=None) & Q(text=re.compile(re.escape(text), re.IGNORECASE))
    if before is not None:
        query &= Q(id__lt=before)
    rows = list(Message.objects(query).order_by("-id").limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor({"before": str(rows[-1].id)}) if more else None)


def chat_history(me: User, chat_id: str, limit: int, cursor: str | None) -> Page:
    """History of a chat reached by its id: a group's as its member saw it, a direct chat's as `history`."""
    chat = chat_rules.visible_chat(me, chat_id)
    if not chat.is_group:
        return history(me, str(chat.other_participant(me.id)), limit, cursor)
    before = before_cursor(cursor)
    query = chat_queries.member_bounds(me, chat) & Q(hidden_for__ne=me.id)
    if before is not None:
        query &= Q(id__lt=before)
    rows = chat_queries.page_of_messages(query, limit)
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(list(reversed(rows)), encode_cursor({"before": str(rows[-1].id)}) if more else None)


def chat_search(me: User, chat_id: str, text: str, limit: int, cursor: str | None) -> Page:
    chat = chat_rules.visible_chat(me, chat_id)
    if not chat.is_group:
        return search(me, str(chat.other_participant(me.id)), text, limit, cursor)
    text = _search_text(text)
    before = before_cursor(cursor)
    query = chat_queries.member_bounds(me, chat) & Q(hidden_for__ne=me.id) & Q(deleted_at=None)
    query &= Q(text=re.compile(re.escape(text), re.IGNORECASE))
    if before is not None:
        query &= Q(id__lt=before)
    rows = chat_queries.page_of_messages(query, limit)
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor({"before": str(rows[-1].id)}) if more else None)


def _chat_position(chat: Chat, phase: int) -> dict[str, Any]:
    return {"p": phase, "t": iso(chat.last_message_at), "i": str(chat.id)}


def _after_position(position: dict[str, Any]) -> Q:
    try:
        moment = datetime.strptime(str(position["t"]), "%Y-%m-%dT%H:%M:%S.%fZ")
        chat_id = ObjectId(str(position["i"]))
    except (KeyError, ValueError, TypeError, InvalidId) as exc:
        raise ApiError(400, "The cursor is not valid.", "invalid_cursor") from exc
    return Q(last_message_at__lt=moment) | (Q(last_message_at=moment) & Q(id__lt=chat_id))


def chat_list(rt: Runtime, me: User, limit: int, cursor: str | None, name_query: str) -> Page:
    """Pinned chats first, then the rest, each newest activity first; a bounded number of queries.
    Groups (mine, and those I left without clearing them) are listed beside direct chats."""
    position = decode_cursor(cursor) or {"p": 0}
    phase = position.get("p")
    if type(phase) is not int or phase not in (0, 1):
        raise ApiError(400, "The cursor is not valid.", "invalid_cursor")
    after = _after_position(position) if cursor else None
    pinned = list(me.pinned_chats)
    pinned_groups = list(me.pinned_group_chats)
    name_query = name_query.strip()
    matching: list[ObjectId] | None = None
    if name_query:
        pattern = re.compile(re.escape(name_query), re.IGNORECASE)
        matching = [u.id for u in User.objects(full_name=pattern, id__ne=me.id).only("id")]
    direct_chat = Q(kind__ne=KIND_GROUP)
    group_named = chat_queries.group_name_matches(name_query) if name_query else Q(kind=KIND_GROUP)
    phases = {
        0: (direct_chat & Q(participants__in=[p for p in pinned if matching is None or p in matching]))
        | (group_named & Q(id__in=pinned_groups)),
        1: (
            direct_chat
            & (
                Q(participants__nin=pinned)
                if matching is None
                else Q(participants__in=[m for m in matching if m not in pinned])
            )
        )
        | (group_named & Q(id__nin=pinned_groups)),
    }
    found: list[tuple[int, Chat]] = []
    for current in (0, 1):
        if current < phase or (current == 0 and not pinned and not pinned_groups):
            continue
        query = chat_queries.listed_chats_query(me) & phases[current]
        if current == phase and after is not None:
            query &= after
        rows = Chat.objects(query).order_by("-last_message_at", "-id").limit(limit + 1 - len(found))
        found.extend((current, chat) for chat in rows)
        if len(found) > limit:
            break
    more = len(found) > limit
    found = found[:limit]
    items = chat_items(rt, me, [chat for _, chat in found], pinned=set(pinned))
    next_cursor = encode_cursor(_chat_position(found[-1][1], found[-1][0])) if more else None
    return Page(items, next_cursor)


def contacts(me: User, limit: int, cursor: str | None, text: str) -> Page:
    """Other active users by name (then id), optionally matching `text` in name or email."""
    query = Q(is_active=True) & Q(is_blocked__ne=True) & Q(id__ne=me.id) & name_or_email_containing(text)
    position = decode_cursor(cursor)
    if position is not None:
        try:
            if not isinstance(position["n"], str):
                raise TypeError("name")
            name, after_id = position["n"], ObjectId(str(position["i"]))
        except (KeyError, ValueError, TypeError, InvalidId) as exc:
            raise ApiError(400, "The cursor is not valid.", "invalid_cursor") from exc
        query &= Q(full_name__gt=name) | (Q(full_name=name) & Q(id__gt=after_id))
    rows = list(User.objects(query).order_by("full_name", "id").limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor({"n": rows[-1].full_name, "i": str(rows[-1].id)}) if more else None
    return Page(rows, next_cursor)


# --- receipts -----------------------------------------------------------------------------------------

# What a receipt needs of the message it names: where it is, whose it is, and its status.
RECEIPT_FIELDS = ("id", "chat_id", "sender_id", "receiver_id", "status", "delivered_at", "read_at")


def message_for_receipt(message_id: ObjectId) -> Message | None:
    return Message.objects(id=message_id).only(*RECEIPT_FIELDS).first()


def ids_of(query: Q) -> list[ObjectId]:
    """The ids of the messages matching `query` (no document built)."""
    return [row["_id"] for row in Message.objects(query).only("id").as_pymongo()]


def receipt_times(chat_id: ObjectId, message_id: ObjectId) -> dict[tuple[ObjectId, str], datetime]:
    """(userId, kind) -> the first time that member's watermark of that kind passed the message."""
    pipeline = [
        {"$match": {"chatId": chat_id, "upTo": {"$gte": message_id}}},
        {"$group": {"_id": {"u": "$userId", "k": "$kind"}, "at": {"$min": "$at"}}},
    ]
    return {(row["_id"]["u"], row["_id"]["k"]): row["at"] for row in ReceiptMark.objects.aggregate(pipeline)}


def messages_after(chat: Chat, me: User, low: ObjectId, high: ObjectId, **filters: Any) -> list[Message]:
    """Others' non-system messages of `chat` in (low, high], oldest first."""
    return list(
        Message.objects(chat_id=chat.id, id__gt=low, id__lte=high, sender_id__ne=me.id, system=None, **filters)
        .order_by("id")
        .only("id", "sender_id", "status", "delivered_at", "read_at", "chat_id")
    )


def waiting_in_groups(me: User, chats: list[Chat]) -> list[Message]:
    """Others' messages still `sent` in these groups after my delivery watermark: one query."""
    clauses = []
    for chat in chats:
        member = chat.member(me.id)
        if member is None or chat.last_message_id is None:
            continue
        mark = chat.delivered_mark(member)
        if chat.last_message_id > mark:
            clauses.append({"chatId": chat.id, "_id": {"$gt": mark}})
    if not clauses:
        return []
    raw = Message._get_collection().find(
        {"$or": clauses, "status": "sent", "senderId": {"$ne": me.id}, "system": None},
        {"_id": 1, "chatId": 1, "senderId": 1, "status": 1},
    )
    return [Message(id=r["_id"], chat_id=r["chatId"], sender_id=r["senderId"], status=r["status"]) for r in raw]
