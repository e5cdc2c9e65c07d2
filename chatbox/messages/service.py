"""Message actions. REST routes and socket handlers both call these; each rule lives here once."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

from bson import ObjectId
from bson.errors import InvalidId
from mongoengine import NotUniqueError, Q

from chatbox.chats import queries as chat_queries
from chatbox.errors import ApiError, bad_request, forbidden, not_found
from chatbox.files.actions import PreparedUpload, close_all, delete_stored_files, prepare_upload, store_prepared
from chatbox.messages import replies
from chatbox.messages.presenting import chat_items
from chatbox.models import Attachment, Chat, Message, StoredFile, User, pair_key
from chatbox.models.chat import KIND_GROUP
from chatbox.models.ids import iso, parse_object_id, utcnow
from chatbox.models.message import STATUS_DELIVERED, STATUS_READ, STATUS_SENT, files_still_attached
from chatbox.models.stored_file import PURPOSE_ATTACHMENT
from chatbox.pagination import Page, decode_cursor, encode_cursor
from chatbox.realtime import events
from chatbox.runtime import Runtime
from chatbox.users.queries import find_other_user
from chatbox.users.rules import ensure_not_blocked, is_blocked_between


@dataclass
class Upload:
    stream: BinaryIO
    filename: str
    images_only: bool = False


@dataclass
class SendResult:
    messages: list[Message]
    created: bool
    # The sender's seq of each message's new-message event (empty when nothing new was stored).
    seqs: list[int | None] = field(default_factory=list)


def clean_text(rt: Runtime, text: str | None, has_attachments: bool) -> str:
    text = (text or "").strip()
    limit = rt.config["MESSAGE_TEXT_MAX"]
    if len(text) > limit:
        raise bad_request(f"Text may be at most {limit} characters.", "text_too_long")
    if not text and not has_attachments:
        raise bad_request("A message needs text or an attachment.", "empty_message")
    return text


def _existing_send(sender: User, client_message_id: str, receiver_id: str) -> list[Message]:
    """The message(s) an earlier send with this clientMessageId stored, oldest first; 409 when that
    send went to someone else (the id was reused, so this is no retry)."""
    first = Message.objects(sender_id=sender.id, client_message_id=client_message_id).first()
    if first is None:
        return []
    if first.receiver_id != parse_object_id(receiver_id):
        raise ApiError(
            409, "This clientMessageId was already used for a message to someone else.", "client_message_id_reused"
        )
    if first.batch_id is None:
        return [first]
    return list(Message.objects(batch_id=first.batch_id).order_by("id"))


def find_chat(a: User, b: User) -> Chat | None:
    return Chat.objects(pair_key=pair_key(a.id, b.id)).first()


def get_or_create_chat(a: User, b: User) -> tuple[Chat, bool]:
    chat = find_chat(a, b)
    return (chat, False) if chat is not None else create_chat(a, b)


def create_chat(a: User, b: User) -> tuple[Chat, bool]:
    """The pair's one chat; the unique index on the sorted pair settles two first messages at once."""
    key = pair_key(a.id, b.id)
    chat = Chat(pair_key=key, participants=sorted([a.id, b.id], key=str), cleared_up_to={})
    try:
        chat.save(force_insert=True)
        return chat, True
    except NotUniqueError:
        return Chat.objects.get(pair_key=key), False


def _store_uploads(rt: Runtime, sender: User, uploads: list[Upload]) -> list[StoredFile]:
    """Check every upload first, then store them all or none (quota included)."""
    prepared: list[PreparedUpload] = []
    try:
        for upload in uploads:
            prepared.append(prepare_upload(rt.storage, upload.stream, upload.filename, upload.images_only))
    except BaseException:
        close_all(prepared)
        raise
    return store_prepared(rt.storage, sender.id, PURPOSE_ATTACHMENT, prepared)


def _attachment(record: StoredFile) -> Attachment:
    return Attachment(
        file_id=record.id,
        kind=record.kind,
        url=record.url,
        name=record.name,
        size=record.size,
        mime_type=record.mime_type,
        width=record.width,
        height=record.height,
        thumb_url=record.thumb_url,
    )


def send_message(
    rt: Runtime,
    sender: User,
    receiver_id: str,
    text: str | None,
    client_message_id: str | None = None,
    images: list[Upload] | None = None,
    file: Upload | None = None,
    origin_sid: str | None = None,
    reply_to: str | None = None,
) -> SendResult:
    """Validate, store and announce one send (one message, or one per image; `reply_to` quotes a
    message of the chat, shown on the first)."""
    images = images or []
    try:
        events.ensure_announceable(rt)
        rt.limiter.hit(rt.config["RATELIMIT_SEND"], "send", str(sender.id))
        if len(images) > rt.config["MAX_IMAGES_PER_SEND"]:
            raise bad_request(f"At most {rt.config['MAX_IMAGES_PER_SEND']} images per message.", "too_many_images")
        receiver = find_other_user(sender, receiver_id, require_active=True)
        ensure_not_blocked(sender, receiver)
        text = clean_text(rt, text, bool(images or file))
    except ApiError:
        # A retry of a send that was stored gets that message, whatever would refuse a new send now
        # (a message queue outage included: answering it announces nothing).
        existing = _existing_send(sender, client_message_id, receiver_id) if client_message_id else []
        if existing:
            return SendResult(existing, created=False)
        raise
    pair = pair_key(sender.id, receiver.id)
    chat_id = rt.chat_ids.get(pair)
    chat = find_chat(sender, receiver) if chat_id is None or reply_to is not None else None
    if chat is not None:
        chat_id = chat.id
    quoted = None
    if reply_to is not None:
        try:
            quoted = replies.quoted_message(sender, chat, reply_to)
        except ApiError:
            existing = _existing_send(sender, client_message_id, receiver_id) if client_message_id else []
            if existing:
                return SendResult(existing, created=False)
            raise
    # A retry is caught by the unique (sender, clientMessageId) index at insert, saving a query on
    # most sends; look first only where that insert would come too late: after storing uploads, or
    # after creating a chat that would then stay empty.
    if client_message_id and (images or file or chat_id is None):
        existing = _existing_send(sender, client_message_id, receiver_id)
        if existing:
            return SendResult(existing, created=False)

    stored = _store_uploads(rt, sender, [*images, *([file] if file else [])])
    try:
        result = _create_messages(rt, sender, receiver, chat_id, text, client_message_id, stored, origin_sid, quoted)
    except Exception:
        delete_stored_files(rt.storage, [s.id for s in stored])
        raise
    if not result.created:
        # A concurrent send with the same clientMessageId won: its files are the message's, not ours.
        delete_stored_files(rt.storage, [s.id for s in stored])
    return result


def insert_messages(
    chat_id: ObjectId,
    sender_id: ObjectId,
    receiver_id: ObjectId | None,
    text: str,
    client_message_id: str | None,
    stored: list[StoredFile],
    quoted: Message | None,
    reply_chars: int,
    now: datetime,
    read: bool,
) -> list[Message] | None:
    """Store one send's messages (direct or group): one per image, the text, the reply and any other file
    riding on the first. `read`: delivered and read on arrival. None when the first insert meets the
    unique (sender, clientMessageId) index: the send is a retry, and the caller answers with the stored one."""
    images = [s for s in stored if s.kind == "image"]
    others = [s for s in stored if s.kind != "image"]
    groups: list[list[StoredFile]] = [[img] for img in images] or [[]]
    groups[0].extend(others)
    ids = [ObjectId() for _ in groups]
    messages: list[Message] = []
    for index, (group, message_id) in enumerate(zip(groups, ids, strict=True)):
        message = Message(
            id=message_id,
            chat_id=chat_id,
            sender_id=sender_id,
            receiver_id=receiver_id,
            text=text if index == 0 else "",
            attachments=[_attachment(s) for s in group],
            status=STATUS_READ if read else STATUS_SENT,
            # Only the first message carries the client's id; the others point at it through batch_id.
            client_message_id=client_message_id if index == 0 else None,
            batch_id=ids[0] if len(ids) > 1 else None,
            reply_to=replies.preview_of(quoted, reply_chars) if quoted is not None and index == 0 else None,
            created_at=now,
            updated_at=now,
            delivered_at=now if read else None,
            read_at=now if read else None,
        )
        try:
            message.save(force_insert=True)
        except NotUniqueError:
            if not client_message_id or messages:
                raise
            return None
        messages.append(message)
    return messages


def _create_messages(
    rt: Runtime,
    sender: User,
    receiver: User,
    chat_id: ObjectId | None,
    text: str,
    client_message_id: str | None,
    stored: list[StoredFile],
    origin_sid: str | None,
    quoted: Message | None = None,
) -> SendResult:
    if chat_id is None:  # send_message looked it up already
        chat_id = create_chat(sender, receiver)[0].id
    rt.chat_ids.put(pair_key(sender.id, receiver.id), chat_id)
    viewing = rt.presence.is_viewing(str(receiver.id), str(sender.id))
    now = utcnow()
    chars = rt.config["REPLY_PREVIEW_CHARS"]
    messages = insert_messages(
        chat_id, sender.id, receiver.id, text, client_message_id, stored, quoted, chars, now, read=viewing
    )
    if messages is None:
        # A retry (or a concurrent one) with the same clientMessageId: answer with its message.
        return SendResult(_existing_send(sender, client_message_id or "", str(receiver.id)), created=False)
    if stored:
        StoredFile.objects(id__in=[s.id for s in stored]).update(set__chat_id=chat_id)
    if quoted is not None:
        replies.catch_up(messages[0], quoted.id, chars)
    seqs = announce_messages(rt, sender, receiver, chat_id, messages, viewing, now, origin_sid)
    return SendResult(messages, created=True, seqs=seqs)


def announce_messages(
    rt: Runtime,
    sender: User,
    receiver: User,
    chat: Chat | ObjectId,
    messages: list[Message],
    viewing: bool,
    now: datetime,
    origin_sid: str | None = None,
) -> list[int | None]:
    """Stored messages of one send: into the chat's summary, out to both users, read if being viewed.
    Returns the sender's seq of each message's new-message."""
    # new-chat goes with the chat's first stored message (not with the chat document, which a failed
    # or racing first send may have created).
    first, chat = _record_in_chat(chat.id if isinstance(chat, Chat) else chat, messages)
    if first:
        chat.reload()  # the new-chat events show the chat's summary as stored
    seqs = events.messages_created(rt, chat, sender, receiver, messages, first, origin_sid)
    if viewing:
        # "Every earlier unread one" first: one may still wait from before the view (a block ended),
        # so that the sender's receipts come in order.
        _read_up_to(rt, receiver, chat, sender.id, messages[-1].id, sender=sender)
        events.messages_read_ids(
            rt, chat, reader=receiver, sender_id=sender.id, message_ids=[m.id for m in messages], read_at=now
        )
    return seqs


def _record_in_chat(chat_id: ObjectId, messages: list[Message]) -> tuple[bool, Chat]:
    """Put the messages in the chat's summary; returns whether they are the chat's first, and the chat
    as it was just before (its participants and clear marks are what the rest of the send needs)."""
    last = messages[-1]
    # $max, so that two sends racing never move the summary back to the older message.
    before = Chat.objects(id=chat_id).modify(
        new=False, max__last_message_id=last.id, max__last_message_at=last.created_at
    )
    if before is None:  # a direct chat is never deleted; this is the database's word against that
        raise RuntimeError(f"chat {chat_id} vanished during a send")
    return before.last_message_id is None, before


# --- status changes -------------------------------------------------------------------------


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
    return _read_up_to(rt, me, chat, message.sender_id, message.id)


def _read_up_to(
    rt: Runtime, me: User, chat: Chat, sender_id: ObjectId, up_to: ObjectId, sender: User | None = None
) -> int:
    if sender is None:
        sender = User.objects(id=sender_id).first()
    if sender is None or is_blocked_between(me, sender):
        # No read receipt crosses a block, and the status is one: the messages stay unread until then.
        return 0
    query = _visible_to(me, chat) & Q(receiver_id=me.id, sender_id=sender_id, status__ne=STATUS_READ, id__lte=up_to)
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
    if sender is None or is_blocked_between(me, sender):
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
    ids = [m.id for m in waiting if m.sender_id in senders and not is_blocked_between(me, senders[m.sender_id])]
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
    return _read_up_to(rt, me, chat, other.id, newest_unread.id)


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
    events.typing(rt, me, other, chat, started)


# --- reading ---------------------------------------------------------------------------------


def _chat_with(me: User, other_id: str) -> tuple[User, Chat | None]:
    other = find_other_user(me, other_id)
    return other, Chat.objects(pair_key=pair_key(me.id, other.id)).first()


def _before_cursor(cursor: str | None) -> ObjectId | None:
    position = decode_cursor(cursor)
    if position is None:
        return None
    before = parse_object_id(str(position.get("before", "")))
    if before is None:
        raise ApiError(400, "The cursor is not valid.", "invalid_cursor")
    return before


def _visible_to(me: User, chat: Chat) -> Q:
    query = Q(chat_id=chat.id)
    mark = chat.cleared_mark_for(me.id)
    if mark is not None:
        query &= Q(id__gt=mark)
    return query


def shown_to(me: User, chat: Chat) -> Q:
    """What my history shows: not cleared by me and not deleted for me (tombstones stay)."""
    return _visible_to(me, chat) & Q(hidden_for__ne=me.id)


def history(me: User, other_id: str, limit: int, cursor: str | None) -> Page:
    """The newest page (or the page before the cursor), oldest first within the page."""
    before = _before_cursor(cursor)
    _other, chat = _chat_with(me, other_id)
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
    text = text.strip()
    if not 1 <= len(text) <= 100:
        raise bad_request("The search text must be 1 to 100 characters.", "invalid_query")
    before = _before_cursor(cursor)
    _other, chat = _chat_with(me, other_id)
    if chat is None:
        return Page([], None)
    query = shown_to(me, chat) & Q(deleted_at=None) & Q(text=re.compile(re.escape(text), re.IGNORECASE))
    if before is not None:
        query &= Q(id__lt=before)
    rows = list(Message.objects(query).order_by("-id").limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor({"before": str(rows[-1].id)}) if more else None)


def clear_chat(rt: Runtime, me: User, other_id: str) -> bool:
    """Hide the chat's history from me; once both sides cleared it, delete it for good."""
    _other, chat = _chat_with(me, other_id)
    if chat is None or chat.last_message_id is None:
        return False
    mark = chat.last_message_id
    Chat.objects(id=chat.id).update_one(**{f"set__cleared_up_to__{me.id}": str(mark)})
    events.chat_cleared(rt, me, chat)
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


# --- chat list and contacts --------------------------------------------------------------------


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
    query = Q(is_active=True) & Q(is_blocked__ne=True) & Q(id__ne=me.id)
    text = text.strip()
    if text:
        pattern = re.compile(re.escape(text), re.IGNORECASE)
        query &= Q(full_name=pattern) | Q(email=pattern)
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
