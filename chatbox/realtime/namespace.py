"""Socket.IO handlers, registered straight on python-socketio's server.

They skip Flask-SocketIO's per-event request context, which measured as the largest cost of a
relayed message (shared/FINDINGS.md); what a handler needs is the token session saved at connect,
re-checked at every event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

import marshmallow as ma
import redis
import socketio
from flask import Flask

from chatbox.auth.tokens import TokenSession, user_from_token
from chatbox.chats import actions as chats
from chatbox.errors import ApiError, QueueUnavailable
from chatbox.messages.actions import chat as messages
from chatbox.messages.actions import receipts
from chatbox.messages.actions import send as sending
from chatbox.messages.actions.send import SendRequest
from chatbox.models import User
from chatbox.models.ids import utcnow
from chatbox.realtime import connections, schemas
from chatbox.realtime.notifier import user_room
from chatbox.realtime.presence import TooManyConnections
from chatbox.runtime import Runtime
from chatbox.sync import queries as sync
from chatbox.sync.schemas import SyncEvent

log = logging.getLogger("chatbox.realtime")

Ack = dict[str, Any]


def _token_from(environ: dict[str, Any], auth: Any) -> str | None:
    if isinstance(auth, dict) and isinstance(auth.get("token"), str) and auth["token"]:
        return auth["token"]
    header = environ.get("HTTP_AUTHORIZATION", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    cookie = SimpleCookie()
    try:
        cookie.load(environ.get("HTTP_COOKIE", ""))
    except Exception:  # a malformed Cookie header just means "no cookie token"
        cookie = SimpleCookie()
    if "jwt" in cookie and cookie["jwt"].value:
        return cookie["jwt"].value
    query = parse_qs(environ.get("QUERY_STRING", ""))
    return (query.get("token") or [None])[0]


LIFECYCLE_EVENTS = frozenset({"connect", "disconnect"})
CLIENT_EVENTS = {
    name: "on_" + name.replace("-", "_")
    for name in (
        "new-message",
        "typing",
        "stop-typing",
        "message-delivered",
        "message-read",
        "join-chat",
        "leave-chat",
        "sync",
    )
}


def _unknown_event(event: str) -> Callable[[User, dict[str, Any]], Ack]:
    def refuse(_user: User, _payload: dict[str, Any]) -> Ack:
        raise ApiError(400, f"Unknown event {event!r}.", "unknown_event")

    return refuse


def _invalid_event(_user: User, _payload: dict[str, Any]) -> Ack:
    raise ApiError(400, "An event name must be a string.", "invalid_event")


def _failure(error: ApiError) -> Ack:
    return {"ok": False, "message": error.message, "code": error.code}


@cache
def _schema(schema: type[ma.Schema]) -> ma.Schema:
    """One instance per event schema: building a marshmallow schema deep-copies its declared fields,
    about a tenth of a socket send's CPU outside the database (docs/benchmarks.md); `load` keeps no
    state on the instance, so one serves every event."""
    return schema()


class ChatNamespace(socketio.Namespace):
    def __init__(self, app: Flask, rt: Runtime) -> None:
        super().__init__("/")
        self.app = app
        self.rt = rt

    # Event names use dashes (new-message -> on_new_message), and every event gets an answer.
    def trigger_event(self, event: str, *args: Any) -> Any:
        sid = args[0] if args else ""
        if not isinstance(event, str):
            # `42[{"a":1}]`: answered (when it asks for an ack) and counted like any event.
            return self._handle(sid, schemas.NoPayload, {}, _invalid_event)
        handler = CLIENT_EVENTS.get(event)
        if event in LIFECYCLE_EVENTS:
            # python-socketio calls these while the socket is connecting or disconnecting; a client
            # that *sends* an event of that name is connected, and must not re-run them.
            if not self.server.manager.is_connected(sid, self.namespace):
                return getattr(self, f"on_{event}")(*args)
            handler = None
        if handler is None:
            return self._handle(sid, schemas.NoPayload, {}, _unknown_event(event))
        return getattr(self, handler)(*args)

    # --- connection lifecycle ---------------------------------------------------------------

    def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = _token_from(environ, auth)
        if not token:
            raise socketio.exceptions.ConnectionRefusedError("Unauthorized")
        checked_at = utcnow()  # before the revocation check below, so a logout during it is re-checked
        generation = self.rt.sessions.cache.generation
        try:
            with self.app.app_context():
                user, claims = user_from_token(token)
        except ApiError as exc:
            raise socketio.exceptions.ConnectionRefusedError("Unauthorized") from exc
        self.rt.sessions.cache.keep(user, generation)  # the document this socket's events are checked on
        try:
            came_online = connections.socket_opened(self.rt, user, sid)
        except TooManyConnections as exc:
            raise socketio.exceptions.ConnectionRefusedError("Too many connections") from exc
        except redis.RedisError as exc:
            # With REDIS_URL, presence lives in Redis: while it is unreachable, try again later.
            log.error("refused a connection: Redis unavailable (%s)", type(exc).__name__)
            raise socketio.exceptions.ConnectionRefusedError("Server unavailable") from exc
        self.save_session(sid, {"user_id": str(user.id), "token": TokenSession.of(user, claims, checked_at)})
        self.rt.sessions.ensure_started()
        self.enter_room(sid, user_room(str(user.id)))
        # From here the user's durable events are held back for this socket until it starts (_resume).
        self.rt.sequencer.open(sid, str(user.id))
        since = auth.get("since") if isinstance(auth, dict) else None
        try:
            # Where the socket starts, read now: every event numbered from here on is the socket's, even
            # if the post-connect work below runs late (it waits for its turn on a busy process).
            point: sync.ResumePoint | None = sync.resume_point(self.rt, user.id, since)
        except Exception:
            log.exception("could not resume the event stream of %s; dropping the socket", user.id)
            point = None
        # After the CONNECT packet has gone out, so the client is ready for these events.
        self.server.start_background_task(self._after_connect, sid, user, came_online, point)

    def _resume(self, sid: str, point: sync.ResumePoint | None) -> None:
        """Replay what the socket missed after `auth.since` (or start it live), before any live event."""
        if point is None:
            self.server.start_background_task(self.disconnect, sid)
            return
        if point.reset:
            self.emit("sync-reset", {"position": point.position}, to=sid)
        self.rt.sequencer.start(sid, point.next_seq, point.position)

    def _after_connect(self, sid: str, user: User, came_online: bool, point: sync.ResumePoint | None) -> None:
        self._resume(sid, point)
        try:
            connections.after_socket_opened(
                self.rt, user, came_online, lambda online: self.emit("online-users", online, to=sid)
            )
        except Exception:
            log.exception("post-connect work failed for %s", user.id)

    def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.rt.sequencer.close(sid)
        user_id = self.get_session(sid).get("user_id")
        if user_id:
            connections.socket_closed(self.rt, user_id, sid)
        # The Engine.IO connection can outlive its session (the client left the namespace, or the
        # server dropped a session whose token stopped being valid): it must sign in again or go.
        self.rt.unclaimed_connections.watch(self.server.manager.eio_sid_from_sid(sid, self.namespace))

    # --- helpers -------------------------------------------------------------------------------

    def _handle(
        self,
        sid: str,
        schema: type[ma.Schema],
        data: Any,
        action: Callable[[User, dict[str, Any]], Ack],
        flood_counted: bool = True,
    ) -> Ack:
        """Check the socket's budget and token, validate `data` with `schema`, run `action`, and turn
        any refusal into an ack. A connection refused for rate limits too often is dropped; with
        `flood_counted` False, the action's own rate limits (typing's) do not count towards that."""
        try:
            self.rt.limiter.hit(self.rt.config["RATELIMIT_SOCKET_EVENTS"], "socket", sid)
        except ApiError as exc:
            self._count_refusal(sid)
            return _failure(exc)
        try:
            # The token first: a socket whose token is no longer good gets nothing else checked.
            user = self._current_user(sid)
            if not isinstance(data, dict):
                raise ApiError(400, "The event payload must be an object.", "validation_error")
            try:
                payload = _schema(schema).load(data)
            except ma.ValidationError as exc:
                raise ApiError(400, "The event payload is not valid.", "validation_error", exc.messages) from exc
            return {"ok": True, **action(user, payload)}
        except ApiError as exc:
            if exc.code == "rate_limited" and flood_counted:
                self._count_refusal(sid)
            return _failure(exc)
        except redis.RedisError as exc:
            log.error("socket event failed: Redis unavailable (%s)", type(exc).__name__)
            return _failure(QueueUnavailable())
        except Exception:
            log.exception("socket event failed")
            return {"ok": False, "message": "Something went wrong on our side.", "code": "internal_error"}

    def _after_ack(self, sid: str, seqs: list[int]) -> None:
        """Tell the sequencer once this event's ack (carrying `seqs`) has gone out: python-socketio queues
        the ack as soon as the handler returns, before this greenlet next yields, and a spawned task runs
        only after that."""
        self.server.start_background_task(self.rt.sequencer.acked, sid, seqs)

    def _count_refusal(self, sid: str) -> None:
        if not self.rt.limiter.allows(self.rt.config["RATELIMIT_SOCKET_REFUSALS"], "socket-refusals", sid):
            log.warning("disconnecting %s: it kept flooding after being rate limited", sid)
            self.server.start_background_task(self.disconnect, sid)

    def _current_user(self, sid: str) -> User:
        session = self.get_session(sid).get("token")
        try:
            if session is None:
                raise ApiError(401, "Unauthorized", "unauthorized")
            return self.rt.sessions.current_user(session)
        except ApiError:
            # Disconnect once this event's ack (which says why) has been sent.
            self.server.start_background_task(self.disconnect, sid)
            raise

    # --- client events -------------------------------------------------------------------------

    def on_new_message(self, sid: str, data: Any = None) -> Ack:
        def action(user: User, payload: dict[str, Any]) -> Ack:
            request = SendRequest(
                user,
                to=payload["to"],
                chat_id=payload["chatId"],
                text=payload["text"],
                client_message_id=payload["clientMessageId"],
                reply_to=payload["replyTo"],
                origin_sid=sid,
            )
            result = sending.send_message(self.rt, request)
            # This socket gets no live new-message for its own send: the ack carries its seq instead.
            seq = result.seqs[0] if result.seqs else None
            if seq is None:
                return {"message": result.messages[0].to_dict()}
            # The ack comes after this socket's earlier events (the send's own new-chat included)...
            if not self.rt.sequencer.wait_sent_before(sid, seq):
                # (they are late: the event goes out live in its turn instead, and the ack without seq)
                self.rt.sequencer.send_live(sid, seq)
                return {"message": result.messages[0].to_dict()}
            # ...and before its later ones.
            self._after_ack(sid, [seq])
            return {"message": result.messages[0].to_dict(), "seq": seq}

        return self._handle(sid, schemas.NewMessageEvent, data, action)

    def _typing(self, sid: str, data: Any, started: bool) -> Ack:
        def action(user: User, payload: dict[str, Any]) -> Ack:
            if payload["chatId"] is not None:
                chats.typing(self.rt, user, payload["chatId"], started)
                return {}
            messages.send_typing(self.rt, user, payload["to"], started)
            return {}

        # A client that sends typing at every keystroke is told to slow down, never dropped for it.
        return self._handle(sid, schemas.ToUserEvent, data, action, flood_counted=False)

    def on_typing(self, sid: str, data: Any = None) -> Ack:
        return self._typing(sid, data, started=True)

    def on_stop_typing(self, sid: str, data: Any = None) -> Ack:
        return self._typing(sid, data, started=False)

    def on_message_delivered(self, sid: str, data: Any = None) -> Ack:
        def action(user: User, payload: dict[str, Any]) -> Ack:
            message = receipts.mark_delivered(self.rt, user, payload["messageId"])
            return {"status": message.status}

        return self._handle(sid, schemas.MessageIdEvent, data, action)

    def on_message_read(self, sid: str, data: Any = None) -> Ack:
        def action(user: User, payload: dict[str, Any]) -> Ack:
            return {"updated": receipts.mark_read(self.rt, user, payload["messageId"])}

        return self._handle(sid, schemas.MessageIdEvent, data, action)

    def on_join_chat(self, sid: str, data: Any = None) -> Ack:
        def action(user: User, payload: dict[str, Any]) -> Ack:
            if payload["chatId"] is not None:
                return {"updated": chats.open_chat(self.rt, user, payload["chatId"], sid)}
            return {"updated": messages.open_chat(self.rt, user, payload["userId"], sid)}

        return self._handle(sid, schemas.ChatUserEvent, data, action)

    def on_leave_chat(self, sid: str, data: Any = None) -> Ack:
        def action(user: User, payload: dict[str, Any]) -> Ack:
            if payload["chatId"] is not None:
                chats.close_chat(self.rt, user, payload["chatId"], sid)
                return {}
            messages.close_chat(self.rt, user, payload["userId"], sid)
            return {}

        return self._handle(sid, schemas.ChatUserEvent, data, action)

    def on_sync(self, sid: str, data: Any = None) -> Ack:
        def action(user: User, payload: dict[str, Any]) -> Ack:
            return sync.catch_up(self.rt, user, payload["since"], payload["limit"])

        return self._handle(sid, SyncEvent, data, action)
