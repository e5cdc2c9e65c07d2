"""The send: one request (REST or socket; to a user, or to any chat by its id), one lookup of an earlier
send with the same clientMessageId, then store, then announce. Direct and group sends share every step
but their checks and their audience."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bson import ObjectId
from mongoengine import NotUniqueError

from chatbox.chats import actions as chat_actions
from chatbox.chats import queries as chat_queries
from chatbox.chats import rules as chat_rules
from chatbox.errors import ApiError, bad_request
from chatbox.files.actions import Upload, delete_stored_files, store_uploads
from chatbox.messages import events, replies, rules
from chatbox.messages.actions.receipts import move_watermark, read_up_to
from chatbox.messages.queries import find_chat
from chatbox.models import Attachment, Chat, Message, StoredFile, User, pair_key
from chatbox.models.chat import ChatState
from chatbox.models.ids import parse_object_id, utcnow
from chatbox.models.message import STATUS_READ, STATUS_SENT, NewMessage, insert_new
from chatbox.models.stored_file import PURPOSE_ATTACHMENT
from chatbox.runtime import Runtime
from chatbox.users.queries import find_other_user
from chatbox.users.rules import ensure_not_blocked


@dataclass
class SendRequest:
    """One send, as the REST route or the socket handler read it. Exactly one of `to` (a user: the direct
    chat with them, which the first message creates) and `chat_id` (any chat of mine by its id)."""

    sender: User
    to: str | None = None
    chat_id: str | None = None
    text: str | None = ""
    client_message_id: str | None = None
    reply_to: str | None = None
    # One message per image (`images_only` parts), the text, the reply and any other file on the first.
    uploads: list[Upload] = field(default_factory=list)
    # The socket that sent it: it gets the send's seq in its ack instead of the new-message event.
    origin_sid: str | None = None


@dataclass
class SendResult:
    # Stored by this send: NewMessage; an earlier send's, read back: Message. Both serialise alike.
    messages: list[Message] | list[NewMessage]
    created: bool
    # The sender's seq of each message's new-message event (empty when nothing new was stored).
    seqs: list[int | None] = field(default_factory=list)


@dataclass
class _Checked:
    """Where a send that passed its checks goes, and what it quotes."""

    text: str
    receiver: User | None  # a direct send's receiver; None for a group
    chat_id: ObjectId | None  # None: a direct chat that the first message creates
    quoted: Message | None
    group: Chat | None = None


def send_message(rt: Runtime, request: SendRequest) -> SendResult:
    """Check, store and announce one send. A retry of a send that was stored (same clientMessageId, same
    target) gets the stored message(s) instead, whatever would refuse a new send now (a message queue
    outage included: answering it announces nothing)."""
    sender = request.sender
    receiver_id, group = request.to, None
    if request.chat_id is not None:
        chat = chat_rules.visible_chat(sender, request.chat_id)  # 404 first, as for anything by chat id
        if chat.is_group:
            group = chat
        else:
            receiver_id = str(chat.other_participant(sender.id))
    refusal: ApiError | None = None
    checked: _Checked | None = None
    try:
        checked = _check_group(rt, request, group) if group is not None else _check_direct(rt, request, receiver_id)
    except ApiError as exc:
        refusal = exc
    # The one lookup of an earlier send. A retry of a text send is otherwise caught by the unique (sender,
    # clientMessageId) index at insert, saving a query on most sends; look first only where that comes
    # too late: after a refusal, after storing uploads, or after creating a chat that would stay empty.
    if request.client_message_id and (refusal is not None or request.uploads or checked is None or not checked.chat_id):
        earlier = _existing_send(request, group, receiver_id)
        if earlier:
            return SendResult(earlier, created=False)
    if refusal is not None:
        raise refusal
    assert checked is not None
    stored = store_uploads(rt.storage, sender.id, PURPOSE_ATTACHMENT, request.uploads)
    try:
        result = _store_and_announce(rt, request, checked, stored, group, receiver_id)
    except Exception:
        delete_stored_files(rt.storage, [s.id for s in stored])
        raise
    if not result.created:
        # A concurrent send with the same clientMessageId won: its files are the message's, not ours.
        delete_stored_files(rt.storage, [s.id for s in stored])
    return result


def _check_common(rt: Runtime, request: SendRequest) -> None:
    events.ensure_announceable(rt)
    rt.limiter.hit(rt.config["RATELIMIT_SEND"], "send", str(request.sender.id))
    limit = rt.config["MAX_IMAGES_PER_SEND"]
    if sum(1 for u in request.uploads if u.images_only) > limit:
        raise bad_request(f"At most {limit} images per message.", "too_many_images")


def _check_direct(rt: Runtime, request: SendRequest, receiver_id: str | None) -> _Checked:
    sender = request.sender
    _check_common(rt, request)
    # A receiver with a socket on this process is read from its session cache (no read, no document
    # to build: a tenth of a socket send's CPU outside the database, docs/benchmarks.md).
    receiver = find_other_user(sender, receiver_id or "", require_active=True, known=rt.sessions.known_user)
    ensure_not_blocked(sender, receiver)
    text = rules.clean_text(rt.config, request.text, bool(request.uploads))
    chat_id = rt.chat_ids.get(pair_key(sender.id, receiver.id))
    chat = find_chat(sender, receiver) if chat_id is None or request.reply_to is not None else None
    if chat is not None:
        chat_id = chat.id
    quoted = replies.quoted_message(sender, chat, request.reply_to) if request.reply_to is not None else None
    return _Checked(text, receiver, chat_id, quoted)


def _check_group(rt: Runtime, request: SendRequest, group: Chat) -> _Checked:
    _check_common(rt, request)
    chat_rules.ensure_member(request.sender, group)
    text = rules.clean_text(rt.config, request.text, bool(request.uploads))
    quoted = replies.quoted_message(request.sender, group, request.reply_to) if request.reply_to is not None else None
    return _Checked(text, None, group.id, quoted, group)


def _existing_send(request: SendRequest, group: Chat | None, receiver_id: str | None) -> list[Message]:
    """The message(s) an earlier send with this clientMessageId stored, oldest first; 409 when that
    send went elsewhere (the id was reused, so this is no retry)."""
    stored = chat_queries.first_send(request.sender.id, request.client_message_id or "")
    if not stored:
        return []
    same = (
        stored[0].chat_id == group.id
        if group is not None
        else stored[0].receiver_id == parse_object_id(receiver_id or "")
    )
    if not same:
        raise ApiError(
            409, "This clientMessageId was already used for a message to someone else.", "client_message_id_reused"
        )
    return stored


def _store_and_announce(
    rt: Runtime,
    request: SendRequest,
    checked: _Checked,
    stored: list[StoredFile],
    group: Chat | None,
    receiver_id: str | None,
) -> SendResult:
    sender, receiver = request.sender, checked.receiver
    now = utcnow()
    chars = rt.config["REPLY_PREVIEW_CHARS"]
    if group is not None:
        chat_id = group.id
        read = group.participants == [sender.id]  # nobody else to deliver to: delivered and read by all of them
    else:
        assert receiver is not None
        chat_id = checked.chat_id or create_chat(sender, receiver)[0].id
        rt.chat_ids.put(pair_key(sender.id, receiver.id), chat_id)
        read = rt.presence.is_viewing(str(receiver.id), str(sender.id))
    messages = insert_messages(
        chat_id,
        sender.id,
        receiver.id if receiver is not None else None,
        checked.text,
        request.client_message_id,
        stored,
        checked.quoted,
        chars,
        now,
        read=read,
    )
    if messages is None:
        # A concurrent send with the same clientMessageId stored first: answer with its message.
        return SendResult(_existing_send(request, group, receiver_id), created=False)
    if stored:
        chat_queries.attach_files([s.id for s in stored], chat_id)
    if checked.quoted is not None:
        replies.catch_up(messages[0], checked.quoted.id, chars)
    if group is not None:
        seqs = announce_group(rt, sender, group, messages, now, request.origin_sid)
    else:
        assert receiver is not None
        seqs = announce_direct(rt, sender, receiver, chat_id, messages, read, now, request.origin_sid)
    return SendResult(messages, created=True, seqs=seqs)


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
) -> list[NewMessage] | None:
    """Store one send's messages (direct or group): one per image, the text, the reply and any other file
    riding on the first. `read`: delivered and read on arrival. None when the first insert meets the
    unique (sender, clientMessageId) index: the send is a retry, and the caller answers with the stored one."""
    images = [s for s in stored if s.kind == "image"]
    others = [s for s in stored if s.kind != "image"]
    groups: list[list[StoredFile]] = [[img] for img in images] or [[]]
    groups[0].extend(others)
    ids = [ObjectId() for _ in groups]
    messages: list[NewMessage] = []
    for index, (group, message_id) in enumerate(zip(groups, ids, strict=True)):
        message = NewMessage(
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
        if not insert_new(message):
            if not client_message_id or messages:
                raise NotUniqueError(f"message {message.id} refused by a unique index")
            return None
        messages.append(message)
    return messages


def announce_direct(
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
    first, before = _record_in_chat(chat.id if isinstance(chat, Chat) else chat, messages)
    current: Chat | ChatState = before
    if first:
        # The new-chat events show the chat's summary as stored: the whole document, once per chat.
        stored_chat = chat_queries.chat_by_id(before.id)
        if stored_chat is None:
            raise RuntimeError(f"chat {before.id} vanished during a send")
        current = stored_chat
    seqs = events.messages_created(rt, current, sender, receiver, messages, first, origin_sid)
    if viewing:
        # "Every earlier unread one" first: one may still wait from before the view (a block ended),
        # so that the sender's receipts come in order.
        read_up_to(rt, receiver, current, sender.id, messages[-1].id, sender=sender)
        events.messages_read_ids(
            rt, current, reader=receiver, sender_id=sender.id, message_ids=[m.id for m in messages], read_at=now
        )
    return seqs


def _record_in_chat(chat_id: ObjectId, messages: list[Message] | list[NewMessage]) -> tuple[bool, ChatState]:
    """Put the messages in the chat's summary; returns whether they are the chat's first, and the chat
    as it was just before (its participants and clear marks are what the rest of the send needs)."""
    before = chat_queries.record_last_message_before(chat_id, messages[-1])
    if before is None:  # a direct chat is never deleted; this is the database's word against that
        raise RuntimeError(f"chat {chat_id} vanished during a send")
    return before.last_message_id is None, before


def announce_group(
    rt: Runtime, sender: User, chat: Chat, messages: list[Message], now: datetime, origin_sid: str | None = None
) -> list[int | None]:
    """Stored messages of one send into a group (or a forward to it): into the group's summary, out to
    every member, pushed to those offline, read at once by those viewing it. Returns the sender's
    `seq` of each message's `new-message` (for a socket send's ack)."""
    chat_queries.record_last_message(chat.id, messages[-1])
    seqs = events.group_messages(rt, chat, sender.id, messages, origin_sid)
    events.push_group_messages(rt, chat, sender, messages, now)
    _read_on_arrival(rt, chat, sender, messages[-1].id)
    return seqs


def _read_on_arrival(rt: Runtime, chat: Chat, sender: User, up_to: ObjectId) -> None:
    """Members with a socket showing the group read what arrives at once."""
    others = [p for p in chat.participants if p != sender.id]
    online = rt.presence.online_among([str(p) for p in others])
    viewing = rt.presence.viewing_among([str(p) for p in others if str(p) in online], chat_actions.view_key(chat))
    viewers = [p for p in others if str(p) in viewing]
    if not viewers:
        return
    for viewer in chat_queries.users_by_id(viewers).values():
        fresh = chat_queries.chat_by_id(chat.id)
        if fresh is None:
            return
        move_watermark(rt, viewer, fresh, up_to, read=True)
