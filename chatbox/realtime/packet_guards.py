"""Guards against malformed Socket.IO packets and long-polling payloads: dropped, counted, and a connection
that keeps sending them is closed."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import socketio

from chatbox.realtime.websocket import ENGINEIO_POLLING_CLIENT_TYPES, engineio_packet_is_valid

if TYPE_CHECKING:
    from chatbox.runtime import Runtime


log = logging.getLogger("chatbox.realtime")

PAYLOAD_SEPARATOR = "\x1e"  # between the packets of one Engine.IO long-polling payload


class MalformedPacketGuard:
    """Drops Socket.IO packets that python-socketio cannot take (`44`, `4\\x00`, `42[]`, bad JSON...),
    which it would otherwise answer with an exception and a traceback in the log for each one.

    A dropped packet counts against the connection's event budget (`RATELIMIT_SOCKET_EVENTS`, keyed
    like the events' by the socket's sid, or by the Engine.IO connection before a sign-in), and a
    connection that goes on after being over budget is closed like an event flooder. At most one
    short line per connection per `log_interval` seconds reaches the log, never the packet itself (it
    may hold a token). Registered as the Engine.IO server's "message" handler, around python-socketio's.
    """

    MALFORMED = (ValueError, TypeError, KeyError, IndexError, AttributeError, UnicodeError)

    def __init__(self, server: socketio.Server, rt: Runtime, log_interval: float = 60.0) -> None:
        self.server = server
        self.rt = rt
        self.log_interval = log_interval
        self.last_logged: dict[str, float] = {}
        self.dropped = 0
        self._on_message = server.eio.handlers["message"]
        server.eio.on("message", self._message)

    def _message(self, eio_sid: str, data: Any) -> Any:
        try:
            return self._on_message(eio_sid, data)
        except self.MALFORMED as exc:
            self.drop(eio_sid, type(exc).__name__)
            return None

    def drop(self, eio_sid: str, what: str) -> None:
        """Count and (at most once a minute per connection) log one malformed packet or payload."""
        self.dropped += 1
        self._note(eio_sid, what)
        self._count(eio_sid)

    def _note(self, eio_sid: str, what: str) -> None:
        now = time.monotonic()
        if now - self.last_logged.get(eio_sid, -self.log_interval) < self.log_interval:
            return
        # Forget connections not heard of for a whole interval: the map stays as small as the log.
        for key, at in list(self.last_logged.items()):
            if now - at >= self.log_interval:
                del self.last_logged[key]
        self.last_logged[eio_sid] = now
        log.warning("dropped malformed Socket.IO packets from connection %s (%s)", eio_sid[:40], what)

    def _count(self, eio_sid: str) -> None:
        config, limiter = self.rt.config, self.rt.limiter
        key = self.server.manager.sid_from_eio_sid(eio_sid, "/") or eio_sid
        try:
            if limiter.allows(config["RATELIMIT_SOCKET_EVENTS"], "socket", key):
                return
            if limiter.allows(config["RATELIMIT_SOCKET_REFUSALS"], "socket-refusals", key):
                return
        except Exception:  # the shared counters are unreachable: the packet is dropped all the same
            return
        engine_socket = self.server.eio.sockets.get(eio_sid)
        if engine_socket is not None and not engine_socket.closed:
            log.warning("closing connection %s: it kept sending malformed packets", eio_sid)
            self.server.start_background_task(
                engine_socket.close, wait=False, reason=self.server.eio.reason.SERVER_DISCONNECT
            )


class PollingPayloadGuard:
    """WSGI middleware in front of Flask-SocketIO's: a long-polling POST whose Engine.IO payload
    python-engineio could not take (an empty packet, a packet not starting with the digit of a type a
    client may send, bad base64) is answered 400 `bad_request` here and counted by the
    `MalformedPacketGuard`. python-engineio would log a traceback for each such request and answer 200,
    or, for a packet type it does not expect, hold the request until the session times out. (Over a
    websocket, the handler closes the connection on such a message: chatbox/realtime/websocket.py.)"""

    BAD_PAYLOAD = json.dumps({"message": "The Engine.IO payload is malformed.", "code": "bad_request"}).encode()

    def __init__(
        self, app: Callable[..., Any], guard: MalformedPacketGuard, max_bytes: int, path: str = "socket.io"
    ) -> None:
        self.app = app
        self.guard = guard
        self.max_bytes = max_bytes
        self.path = "/" + path.strip("/") + "/"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") != "POST" or not str(environ.get("PATH_INFO", "")).startswith(self.path):
            return self.app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length <= 0 or length > self.max_bytes:
            return self.app(environ, start_response)  # nothing to read, or python-engineio refuses the size
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        if _payload_is_valid(body):
            return self.app(environ, start_response)
        sid = parse_qs(str(environ.get("QUERY_STRING", ""))).get("sid", [""])[0]
        self.guard.drop(sid or "(no session)", "bad polling payload")
        start_response(
            "400 BAD REQUEST",
            [("Content-Type", "application/json"), ("Content-Length", str(len(self.BAD_PAYLOAD)))],
        )
        return [self.BAD_PAYLOAD]


def _payload_is_valid(body: bytes) -> bool:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(
        engineio_packet_is_valid(packet, ENGINEIO_POLLING_CLIENT_TYPES) for packet in text.split(PAYLOAD_SEPARATOR)
    )
