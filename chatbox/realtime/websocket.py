"""gevent-websocket's handler, bounded: ChatBox's handler (chatbox/realtime/serving.py), which the
Procfile's worker, the development server and the tests' servers use, builds on it.

gevent-websocket reads a whole frame of whatever length its header declares before anything can look
at it, then unmasks it and checks its UTF-8 in Python loops over every byte. A client with no account
(the websocket opens before Socket.IO's CONNECT carries a token) could make the server buffer a frame
of gigabytes, or stall every connection of the process with one large frame: 30 MB stalled it for
about 7 s here. So a message above the Engine.IO packet cap (`MAX_JSON_BYTES`, the same cap that
long-polling requests get) is refused from its header, with close code 1009 and without processing
its payload; unmasking and UTF-8 decoding run in C; each connection yields before every message, so
that one busy connection cannot hold the process; connections are read through a small buffer; and a
text message python-engineio could not decode closes the connection (1003) instead of raising out of it.
"""

from __future__ import annotations

import base64
import binascii
import logging
import socket
import struct
from typing import Any

import gevent
from geventwebsocket.exceptions import ProtocolError, WebSocketError
from geventwebsocket.handler import WebSocketHandler
from geventwebsocket.websocket import MSG_ALREADY_CLOSED, Header, Stream, WebSocket

from chatbox.realtime.engine import OrderedStream

log = logging.getLogger("chatbox.realtime")

# pywsgi reads each connection through a BufferedReader of 8 KiB, which a websocket keeps for its
# whole life; 1 KiB saves about 3.5 KiB of RSS per open socket, 256 bytes about 1 KiB more
# (docs/benchmarks.md). Larger reads still arrive whole: BufferedReader loops, and reads larger than
# its buffer bypass it.
READ_BUFFER_BYTES = 256
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_UNSUPPORTED_DATA = 1003
ENGINEIO_PACKET_TYPES = "0123456"  # open, close, ping, pong, message, upgrade, noop
# What python-engineio takes from a client over long-polling: close, pong, message, upgrade.
ENGINEIO_POLLING_CLIENT_TYPES = "1345"
# After refusing a message, what we read and drop at most so the client gets our close frame.
LINGER_BYTES = 4 * 1024 * 1024
LINGER_SECONDS = 2.0


def engineio_packet_is_valid(text: str, types: str = ENGINEIO_PACKET_TYPES) -> bool:
    """Can python-engineio take this text packet from a client? Empty, not starting with a packet type
    digit, or "b" followed by bad base64, it raises ValueError; a type it does not expect from a client
    it cannot handle either (over long-polling, such a POST hangs until the session times out)."""
    if not text:
        return False
    if text[0] == "b":
        try:
            base64.b64decode(text[1:], validate=True)
        except (binascii.Error, ValueError):
            return False
        return True
    return text[0] in types


class MessageTooBig(Exception):
    """Not a socket error on purpose: gevent-websocket answers those with a plain close."""


def unmask(payload: bytes, mask: bytes) -> bytes:
    """XOR a client frame's payload with its 4-byte mask (RFC 6455, 5.3), as one big-integer XOR."""
    size = len(payload)
    if size == 0:
        return b""
    key = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")


def _linger(connection: socket.socket) -> None:
    """Read and drop what the client is still sending (a bounded amount, for a bounded time) after
    our close frame: closing with unread data makes the kernel send a reset, and a reset can
    discard the close frame (and its 1009) before the client reads it."""
    try:
        connection.shutdown(socket.SHUT_WR)
        with gevent.Timeout(LINGER_SECONDS, False):
            dropped = 0
            while dropped < LINGER_BYTES:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                dropped += len(chunk)
    except OSError:
        pass  # the client is gone already


class BoundedWebSocket(WebSocket):
    __slots__ = ("max_message_bytes", "message_bytes")

    def __init__(self, environ: dict[str, Any], stream: Stream, handler: Any, max_message_bytes: int) -> None:
        super().__init__(environ, stream, handler)
        self.max_message_bytes = max_message_bytes
        self.message_bytes = 0

    def read_frame(self) -> tuple[Header, bytes]:
        header = Header.decode_header(self.stream)
        if header.flags:
            raise ProtocolError
        if header.opcode in (self.OPCODE_TEXT, self.OPCODE_BINARY):
            self.message_bytes = header.length
        elif header.opcode == self.OPCODE_CONTINUATION:
            self.message_bytes += header.length
        # (control frames are at most 125 bytes; decode_header enforces that)
        if self.message_bytes > self.max_message_bytes:
            raise MessageTooBig
        if not header.length:
            return header, b""
        try:
            payload = self.raw_read(header.length)
        except Exception:  # as gevent-websocket: a failed (or concurrently closed) read ends the connection
            payload = b""
        if len(payload) != header.length:
            raise WebSocketError("Unexpected EOF reading frame payload")
        return header, unmask(payload, header.mask) if header.mask else payload

    def validate_utf8(self, payload: bytes) -> None:
        """Nothing to do per frame: gevent-websocket decodes each whole text message strictly right after
        (`_decode_bytes`, in C), and closes with 1007 when that fails."""

    def receive(self) -> str | bytes | None:
        # A connection's messages are read and handled one after another in its own greenlet, which
        # never yields while its client's frames are already buffered and their handling needs no
        # I/O (refused CONNECTs, pongs, events on the embedded database): one busy connection would
        # hold the whole process. Let the others, and the writers that send acks, run first.
        gevent.sleep(0)
        try:
            message = super().receive()
        except MessageTooBig:
            connection = self.handler.socket
            self.close(CLOSE_MESSAGE_TOO_BIG, b"Message too big")
            _linger(connection)
            return None
        if isinstance(message, str) and not engineio_packet_is_valid(message):
            # python-engineio would raise on it out of the whole connection (a traceback in the log
            # for each such connection): close it here instead, with one short line.
            log.warning("closing a websocket that sent a malformed Engine.IO packet")
            self.close(CLOSE_UNSUPPORTED_DATA, b"Malformed packet")
            return None
        return message

    def close(self, code: int = 1000, message: bytes | str = b"") -> None:
        """gevent-websocket's close, but its close frame carries the status code (the original drops it)."""
        if self.closed:
            self.current_app.on_close(MSG_ALREADY_CLOSED)
        reason = message.encode("utf-8") if isinstance(message, str) else bytes(message or b"")
        try:
            self.send_frame(struct.pack("!H", code) + reason, opcode=self.OPCODE_CLOSE)
        except WebSocketError:
            pass  # the peer is gone already; the connection is being closed anyway
        finally:
            self.closed = True
            self.stream = None
            self.raw_write = None
            self.raw_read = None
            self.environ = None


class BoundedWebSocketHandler(WebSocketHandler):
    """gevent-websocket's handler, handing the application a `BoundedWebSocket`."""

    def __init__(self, sock: Any, address: Any, server: Any) -> None:
        # pywsgi calls its `rfile` parameter deprecated; gevent is pinned, and a removal would fail
        # every connection in the tests at once.
        super().__init__(sock, address, server, rfile=sock.makefile("rb", READ_BUFFER_BYTES))

    def upgrade_websocket(self) -> Any:
        result = super().upgrade_websocket()
        original = getattr(self, "websocket", None)
        if original is not None:  # the upgrade went through
            # Retire gevent-websocket's own object quietly: its __del__ would send a close frame.
            original.closed = True
            # Written through an OrderedWriter: never blocking the sender (chatbox/realtime/engine.py).
            self.websocket = BoundedWebSocket(self.environ, OrderedStream(self), self, self._max_message_bytes())
            self.environ["wsgi.websocket"] = self.websocket
            # pywsgi's parsed request headers are read only before the application runs; the environ
            # carries them for the connection's life. Not keeping both saves memory per open socket.
            self.headers = None
        return result

    def _max_message_bytes(self) -> int:
        # The served application is ChatBox's Flask app: its config holds the one cap (config.py).
        return int(self.application.config["MAX_JSON_BYTES"])
