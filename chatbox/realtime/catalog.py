"""Every Socket.IO event of the public contract, with its payload and ack: the source of /api/asyncapi.json.

Adding an event is one entry in `EVENTS` (in its area's block): a `ClientEvent` (client → server, with
the fields of its successful ack) or a `ServerEvent` (server → client). A payload is a marshmallow
schema (converted like the OpenAPI document's, so a nested `MessageSchema` becomes a reference to the
`Message` schema both documents share) or a ready JSON Schema. tests/test_asyncapi.py sends and
receives every event against a live server and validates each payload and ack against the document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import marshmallow as ma

from chatbox.messages.schemas import ReactionsResultSchema
from chatbox.realtime import schemas
from chatbox.realtime.sequencer import DURABLE_EVENTS
from chatbox.sync.schemas import SyncEvent, SyncResultSchema

SchemaLike = type[ma.Schema] | dict[str, Any]

MESSAGE = {"$ref": "#/components/schemas/Message"}
CHAT = {"$ref": "#/components/schemas/Chat"}
ID = {"type": "string", "pattern": "^[0-9a-f]{24}$"}
USER_IDS = {"type": "array", "items": ID}
MESSAGE_DELETED = {
    "oneOf": [
        {
            "type": "object",
            "description": "Deleted for everyone: a tombstone stays in place",
            "properties": {"messageId": ID, "chatId": ID, "deletedAt": {"type": "string", "format": "date-time"}},
            "required": ["messageId", "chatId", "deletedAt"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "description": "Deleted for me (sent to my own devices only)",
            "properties": {"messageId": ID, "chatId": ID, "forMe": {"const": True}},
            "required": ["messageId", "chatId", "forMe"],
            "additionalProperties": False,
        },
    ]
}


@dataclass(frozen=True)
class ClientEvent:
    """Client → server: the server validates `payload` and always answers an ack."""

    name: str
    area: str
    summary: str
    payload: SchemaLike
    ack: SchemaLike  # the fields of `{ok: true, ...}` besides `ok`
    failures: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class ServerEvent:
    """Server → client: `summary` says to whom and when it is sent."""

    name: str
    area: str
    summary: str
    payload: SchemaLike


Event = ClientEvent | ServerEvent

EVENTS: list[Event] = [
    # --- connection and presence ---
    ServerEvent(
        "online-users",
        "presence",
        "To the connecting socket, right after it connects: the ids of the people I share a chat with who are "
        "online (never across a block).",
        USER_IDS,
    ),
    ServerEvent(
        "user-online",
        "presence",
        "To the people who share a chat with that user, when its first socket connects, and to a chat partner "
        "when a block between them ends while that user is online.",
        schemas.UserOnlinePayload,
    ),
    ServerEvent(
        "user-offline",
        "presence",
        "To the people who share a chat with that user, when its last socket disconnects (`lastSeen` set), "
        "and to a chat partner when a block starts between them (`lastSeen` null).",
        schemas.UserOfflinePayload,
    ),
    # --- typing ---
    ClientEvent(
        "typing",
        "typing",
        "I am typing to user `to`, someone I share a chat with, or in chat `chatId` (any kind; give one of "
        "the two): the other members get `typing {from, chatId}`.",
        schemas.ToUserEvent,
        schemas.EmptyAck,
        ("user_not_found", "self_not_allowed", "blocked", "no_chat", "chat_not_found", "not_a_member"),
    ),
    ClientEvent(
        "stop-typing",
        "typing",
        "I stopped typing to user `to` or in chat `chatId`: they get `stop-typing {from, chatId}`.",
        schemas.ToUserEvent,
        schemas.EmptyAck,
        ("user_not_found", "self_not_allowed", "blocked", "no_chat", "chat_not_found", "not_a_member"),
    ),
    ServerEvent("typing", "typing", "To the user typed to, on the client event `typing`.", schemas.TypingPayload),
    ServerEvent(
        "stop-typing", "typing", "To the user typed to, on the client event `stop-typing`.", schemas.TypingPayload
    ),
    # --- messages and chats ---
    ClientEvent(
        "new-message",
        "messages",
        "Send a text message to user `to`, with the rules of POST /api/messages/send, or to any chat by "
        "`chatId` (a group: POST /api/chats/{chatId}/messages); give one of the two. `replyTo`: the id of a "
        "message of that chat it answers. A retry with a known `clientMessageId` acks the stored message.",
        schemas.NewMessageEvent,
        schemas.NewMessageAck,
        (
            "empty_message",
            "text_too_long",
            "self_not_allowed",
            "user_not_found",
            "blocked",
            "client_message_id_reused",
            "invalid_reply",
            "chat_not_found",
            "not_a_member",
        ),
    ),
    ClientEvent(
        "message-delivered",
        "messages",
        "The receiver got the message: it becomes `delivered` (never goes back; the ack says its status now) "
        "and its sender gets `message-status`.",
        schemas.MessageIdEvent,
        schemas.StatusAck,
        ("message_not_found", "not_receiver"),
    ),
    ClientEvent(
        "message-read",
        "messages",
        "As PUT /api/messages/read/{messageId}: that message and every earlier unread one from the same sender "
        "become `read`; the sender gets `messages-read`.",
        schemas.MessageIdEvent,
        schemas.UpdatedAck,
        ("message_not_found", "not_receiver"),
    ),
    ClientEvent(
        "join-chat",
        "messages",
        "This socket shows my chat with `userId`, or chat `chatId` (any kind): its unread messages become "
        "`read`, and so do new ones on arrival until `leave-chat`.",
        schemas.ChatUserEvent,
        schemas.UpdatedAck,
        ("user_not_found", "self_not_allowed", "chat_not_found", "not_a_member"),
    ),
    ClientEvent(
        "leave-chat",
        "messages",
        "This socket stopped showing my chat with `userId`, or chat `chatId` (a leave for another chat "
        "changes nothing).",
        schemas.ChatUserEvent,
        schemas.EmptyAck,
        ("user_not_found", "self_not_allowed", "chat_not_found"),
    ),
    ServerEvent(
        "new-chat",
        "messages",
        "To both users, when the first message of their chat is stored, before that message's `new-message`; "
        "the chat as its receiver sees it (its `unreadCount` already counts that message). For a group: to "
        "every member when it is created, and to those added, before the system message's `new-message`.",
        CHAT,
    ),
    ServerEvent(
        "new-message",
        "messages",
        "To the receiver's sockets and the sender's other sockets, for every stored message (REST or socket); "
        "in a group, to every member's sockets (system messages included).",
        MESSAGE,
    ),
    ServerEvent(
        "chat-updated",
        "groups",
        "To every member of a group (as each sees it) after a rename, an avatar change, a member or role change.",
        CHAT,
    ),
    ServerEvent(
        "chat-removed",
        "groups",
        "To a member who left or was removed from a group (its history stays readable until they clear it), "
        "and to every former member still listing it when the group is deleted.",
        schemas.ChatRemovedPayload,
    ),
    ServerEvent(
        "message-status",
        "messages",
        "To the sender, when a message becomes `delivered`.",
        schemas.MessageStatusPayload,
    ),
    ServerEvent(
        "messages-read",
        "messages",
        "To the sender, when messages of theirs become `read`.",
        schemas.MessagesReadPayload,
    ),
    # --- message lifecycle: edit, delete, react (forwards and replies are sends) ---
    ServerEvent(
        "message-updated",
        "lifecycle",
        "To every device of both participants, after an edit: the message as that edit stored it.",
        MESSAGE,
    ),
    ServerEvent(
        "message-deleted",
        "lifecycle",
        "To every device of both participants after a delete for everyone (`deletedAt`); to my own devices "
        "after a delete for me (`forMe: true`).",
        MESSAGE_DELETED,
    ),
    ServerEvent(
        "message-reactions",
        "lifecycle",
        "To every device of both participants, after a reaction is set or removed: the message's reactions.",
        ReactionsResultSchema,
    ),
    # --- the event stream: my own devices follow my changes; catching up ---
    ServerEvent(
        "user-blocked",
        "stream",
        "To my own devices, after I block someone (REST or another device).",
        schemas.UserOnlinePayload,
    ),
    ServerEvent("user-unblocked", "stream", "To my own devices, after I unblock someone.", schemas.UserOnlinePayload),
    ServerEvent("chat-pinned", "stream", "To my own devices, after I pin a chat.", schemas.ChatPinPayload),
    ServerEvent("chat-unpinned", "stream", "To my own devices, after I unpin a chat.", schemas.ChatPinPayload),
    ServerEvent(
        "chat-cleared",
        "stream",
        "To my own devices, after I clear a chat that had something to clear.",
        schemas.ChatClearedPayload,
    ),
    ServerEvent(
        "sync-reset",
        "stream",
        "To a socket that connected with `auth.since` the server cannot replay from (too old, above my position, or "
        "not a number): refetch the lists over REST and go on from `position`.",
        schemas.SyncResetPayload,
    ),
    ClientEvent(
        "sync",
        "stream",
        "My stored durable events after `since`, as GET /api/sync answers: `{events, position, hasMore}`, or "
        "`{reset: true, position}` when `since` is older than what is kept.",
        SyncEvent,
        SyncResultSchema,
        ("invalid_since",),
    ),
]


def is_durable(name: str) -> bool:
    """Durable events come with a second argument `{seq}`: their place in the user's event stream."""
    return name in DURABLE_EVENTS


def client_events() -> list[ClientEvent]:
    return [e for e in EVENTS if isinstance(e, ClientEvent)]


def server_events() -> list[ServerEvent]:
    return [e for e in EVENTS if isinstance(e, ServerEvent)]
