"""python-engineio's server and socket with one greenlet per websocket instead of three.

For each websocket, python-engineio 4.15 keeps three greenlets alive for the connection's whole life:
gevent-websocket's handler (which reads), a writer that waits on the socket's queue, and a timer that
sleeps until the next ping. Each greenlet keeps its frame stack and its saved C stack, about 10 KiB of
RSS per socket each (docs/benchmarks.md, "Memory per socket"). Here:

- **no writer greenlet**: once a websocket is open, a packet is framed and written by the greenlet that
  sends it. Writes go through `OrderedWriter`, which never blocks its caller: what the kernel does not
  take at once is kept, in order, and written by a greenlet that exists only while such a backlog
  does. So a receiver that reads slowly costs its sender nothing, as with python-engineio's queue,
  and frames are written whole and in the order they were sent.
- **one ping timer per server**: `PingScheduler` keeps the sockets due for a ping in a deque (every
  socket of a server waits the same interval, so the deque is in due order) and one greenlet sends
  the pings when due. A client that does not answer is still dropped at the ping timeout: the check
  is python-engineio's own (`check_ping_timeout`, run by its monitor task and on every send).

Long-polling, the upgrade from polling to websocket and everything else stay python-engineio's.
Written against python-engineio 4.15.1 (pinned in requirements.txt); `LeanEngineServer._handle_connect`
repeats that version's method with our socket class, the one place it names its socket class.
"""

from __future__ import annotations

import contextlib
import errno
import inspect
import json
import socket as pysocket
import time
from collections import deque
from typing import Any

import engineio
import gevent
import gevent.socket
import socketio
from engineio import exceptions, packet
from engineio.socket import Socket
from geventwebsocket.websocket import Stream


class OrderedWriter:
    """Writes to a gevent socket without ever blocking the caller, keeping every write whole and in order.

    A write goes straight to the kernel when nothing is waiting to be written; the part the kernel does
    not take (its send buffer is full: the client reads slowly, or not at all) is kept, with every later
    write behind it, and written by a greenlet that ends once the backlog is gone. A failed write marks
    the writer broken: later writes raise, and the connection is shut down so that its reader ends.
    """

    __slots__ = ("backlog", "broken", "flusher", "sock")

    def __init__(self, sock: gevent.socket.socket) -> None:
        self.sock = sock
        self.backlog: deque[bytes | memoryview] | None = None
        self.flusher: gevent.Greenlet | None = None
        self.broken = False

    def write(self, data: bytes) -> None:
        if self.broken:
            raise OSError(errno.EPIPE, "connection broken")
        if self.backlog is not None:
            self.backlog.append(data)
            return
        try:
            sent = self.sock.send(data, 0, timeout=0.0)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.broken = True
            raise
        if sent < len(data):
            self.backlog = deque([memoryview(data)[sent:]])
            self.flusher = gevent.spawn(self._flush)

    def _flush(self) -> None:
        backlog = self.backlog
        try:
            while backlog:
                self.sock.sendall(backlog.popleft())
        except OSError:
            self.broken = True
            with contextlib.suppress(OSError):
                self.sock.shutdown(pysocket.SHUT_RDWR)
        finally:
            self.backlog = None
            self.flusher = None


class OrderedStream(Stream):
    """gevent-websocket's stream over a connection, writing through an `OrderedWriter`."""

    __slots__ = ("writer",)

    def __init__(self, handler: Any) -> None:
        super().__init__(handler)
        self.writer = OrderedWriter(handler.socket)
        self.write = self.writer.write


def ordered_writer(ws: Any) -> OrderedWriter | None:
    """The `OrderedWriter` under python-engineio's websocket wrapper, if the connection has one."""
    websocket = getattr(ws, "environ", {}).get("wsgi.websocket")
    stream = getattr(websocket, "stream", None)
    return stream.writer if isinstance(stream, OrderedStream) else None


class PingScheduler:
    """Sends the Engine.IO pings of all the sockets of one server from one greenlet."""

    def __init__(self, server: engineio.Server) -> None:
        self.server = server
        self.due: deque[tuple[float, LeanSocket]] = deque()
        self.running = False

    def add(self, sock: LeanSocket) -> None:
        # Every socket waits the same interval, so appending keeps the deque in due order.
        self.due.append((time.monotonic() + self.server.ping_interval, sock))
        if not self.running:
            self.running = True
            self.server.start_background_task(self._run)

    def _run(self) -> None:
        try:
            while self.due:
                wait = self.due[0][0] - time.monotonic()
                if wait > 0:
                    self.server.sleep(wait)
                    continue
                _, sock = self.due.popleft()
                try:
                    sock.ping_now()
                except Exception:
                    self.server.logger.exception("%s: could not send a ping", sock.sid)
        finally:
            self.running = False


class _WrittenDirectly:
    """Stands for the packet queue of a socket that writes directly: nothing waits in it, and nothing
    may be put in it. One object for every such socket, instead of a queue each (about 2.5 KiB)."""

    __slots__ = ()

    def qsize(self) -> int:
        return 0

    def empty(self) -> bool:
        return True

    def put(self, item: Any, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("this socket writes its packets directly")

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("this socket writes its packets directly")


WRITTEN_DIRECTLY = _WrittenDirectly()


def packets_waiting(engine_socket: Any) -> int:
    """Packets (or parts of frames) an Engine.IO socket holds that its client has not been sent yet: its
    queue, or, once it writes directly, its writer's backlog."""
    ws = getattr(engine_socket, "ws", None)
    writer = ordered_writer(ws) if ws is not None else None
    backlog = writer.backlog if writer is not None else None
    return int(engine_socket.queue.qsize()) + len(backlog or ())


class LeanSocket(Socket):
    """python-engineio's socket, writing websocket packets directly and pinged by the server's scheduler."""

    def __init__(self, server: LeanEngineServer, sid: str) -> None:
        super().__init__(server, sid)
        self.ws: Any = None  # set once the websocket writes directly

    def send(self, pkt: packet.Packet) -> None:
        ws = self.ws
        if ws is None:
            super().send(pkt)
            return
        if not self.check_ping_timeout():
            return
        try:
            ws.send(pkt.encode())
        except Exception:  # the connection is gone: its reader ends and closes the socket
            self.server.logger.info("%s: could not write a packet, the connection is closing", self.sid)

    def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        ws = self.ws
        if ws is None:
            super().close(wait=wait, abort=abort, reason=reason)
            return
        if self.closed or self.closing:
            return
        self.closing = True
        self.server._trigger_event(
            "disconnect", self.sid, reason or self.server.reason.SERVER_DISCONNECT, run_async=False
        )
        if not abort:
            self.send(packet.Packet(packet.CLOSE))
        self.closed = True
        # python-engineio's `wait` waits until its writer has taken every queued packet; here every packet
        # was handed to the writer when sent, so there is nothing to wait for. As its writer does when its
        # queue ends: a websocket close frame, behind everything written before.
        ws.close()

    def schedule_ping(self) -> None:
        # as python-engineio: a new ping only once the previous one was answered
        if self.last_ping:
            self.last_ping = None
            self.server.ping_scheduler.add(self)

    def ping_now(self) -> None:
        if not self.closing and not self.closed:
            self.last_ping = time.time()
            self.send(packet.Packet(packet.PING))

    def _websocket_handler(self, ws: Any) -> list[Any]:
        if ordered_writer(ws) is None:  # not our websocket handler: python-engineio's writer greenlet
            return super()._websocket_handler(ws)

        def websocket_wait() -> Any:
            data = ws.wait()
            if data and len(data) > self.server.max_http_buffer_size:
                raise ValueError("packet is too large")
            return data

        if self.connected:
            # an upgrade from long-polling, as python-engineio does it
            self.upgrading = True
            pkt = websocket_wait()
            decoded = packet.Packet(encoded_packet=pkt)
            if decoded.packet_type != packet.PING or decoded.data != "probe":
                self.server.logger.info("%s: Failed websocket upgrade, no PING packet", self.sid)
                self.upgrading = False
                return []
            ws.send(packet.Packet(packet.PONG, data="probe").encode())
            self.queue.put(packet.Packet(packet.NOOP))  # end poll
            pkt = websocket_wait()
            decoded = packet.Packet(encoded_packet=pkt)
            if decoded.packet_type != packet.UPGRADE:
                self.upgraded = False
                self.server.logger.info("%s: Failed websocket upgrade, expected UPGRADE packet", self.sid)
                self.upgrading = False
                return []
            self.upgraded = True
            self.upgrading = False
        else:
            self.connected = True
            self.upgraded = True

        # What was queued before (the OPEN packet; during an upgrade, what the client's last poll did not
        # take: the client sends UPGRADE only after that poll ended) is written first, then every packet
        # is written as it is sent. No switch happens between the two, so the order holds.
        if not self._write_queued(ws):
            ws.close()
            return []
        self.ws = ws
        self.queue = WRITTEN_DIRECTLY

        while True:
            try:
                p = websocket_wait()
            except Exception as e:
                if not self.closed:
                    self.server.logger.info('%s: Unexpected error "%s", closing connection', self.sid, e)
                break
            if p is None:  # connection closed by the client
                break
            try:
                self.receive(packet.Packet(encoded_packet=p))
            except exceptions.UnknownPacketError:
                pass
            except exceptions.SocketIsClosedError:
                self.server.logger.info("Receive error -- socket is closed")
                break
            except Exception:
                self.server.logger.exception("Unknown receive error")
                break

        if not self.closed:
            self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
        return []

    def _write_queued(self, ws: Any) -> bool:
        """Write what waits in the queue; False if the socket was closed meanwhile."""
        queue_empty = self.server.get_queue_empty_exception()
        while True:
            try:
                pkt = self.queue.get(block=False)
            except queue_empty:
                return True
            self.queue.task_done()
            if pkt is None:  # closed while upgrading
                return False
            try:
                ws.send(pkt.encode())
            except Exception:
                return False


def _json_error(status: str, message: str, code: str) -> dict[str, Any]:
    body = json.dumps({"message": message, "code": code}).encode()
    return {"status": status, "headers": [("Content-Type", "application/json")], "response": body}


# python-engineio's message for a handshake from an origin that `cors_allowed_origins` refuses.
_FOREIGN_ORIGIN = "Not an accepted origin."


class LeanEngineServer(engineio.Server):
    """python-engineio's server with `LeanSocket`s and one `PingScheduler`, whose own refusals are
    ChatBox's `{message, code}` JSON (python-engineio answers them in text/plain)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ping_scheduler = PingScheduler(self)

    def _bad_request(self, message: str | None = None) -> dict[str, Any]:
        if message == _FOREIGN_ORIGIN:
            return _json_error("400 BAD REQUEST", "This origin may not connect.", "origin_not_allowed")
        text = f"The Socket.IO request is not valid: {message}" if message else "The Socket.IO request is not valid."
        return _json_error("400 BAD REQUEST", text, "bad_request")

    def _method_not_found(self) -> dict[str, Any]:
        return _json_error("405 METHOD NOT ALLOWED", "That method is not allowed here.", "method_not_allowed")

    def _unauthorized(self, message: str | None = None) -> dict[str, Any]:
        return _json_error("401 UNAUTHORIZED", message or "Unauthorized", "unauthorized")

    def _handle_connect(
        self, environ: dict[str, Any], start_response: Any, transport: str, jsonp_index: Any = None
    ) -> Any:
        """python-engineio 4.15.1's `Server._handle_connect`, creating a `LeanSocket`."""
        if self.start_service_task:
            self.start_service_task = False
            self.service_task_handle = self.start_background_task(self._service_task)

        sid = self.generate_id()
        s = LeanSocket(self, sid)
        self.sockets[sid] = s

        pkt = packet.Packet(
            packet.OPEN,
            {
                "sid": sid,
                "upgrades": self._upgrades(sid, transport),
                "pingTimeout": int(self.ping_timeout * 1000),
                "pingInterval": int(self.ping_interval + self.ping_interval_grace_period) * 1000,
                "maxPayload": self.max_http_buffer_size,
            },
        )
        s.send(pkt)

        ret = self._trigger_event("connect", sid, environ, run_async=False)
        if ret is not None and ret is not True:
            del self.sockets[sid]
            self.logger.warning("Application rejected connection")
            return self._unauthorized(ret or None)

        s.schedule_ping()

        if transport == "websocket":
            ret = s.handle_get_request(environ, start_response)
            if s.closed and sid in self.sockets:
                del self.sockets[sid]
            return ret
        s.connected = True
        headers = None
        if self.cookie:
            if isinstance(self.cookie, dict):
                headers = [("Set-Cookie", self._generate_sid_cookie(sid, self.cookie))]
            else:
                headers = [
                    (
                        "Set-Cookie",
                        self._generate_sid_cookie(sid, {"name": self.cookie, "path": "/", "SameSite": "Lax"}),
                    )
                ]
        try:
            return self._ok(s.poll(), headers=headers, jsonp_index=jsonp_index)
        except exceptions.QueueEmpty:
            return self._bad_request()


_SOCKETIO_ONLY_OPTIONS = set(inspect.signature(socketio.base_server.BaseServer.__init__).parameters) - {
    "self",
    "json",
    "kwargs",
}


def use_lean_engine(server: socketio.Server, options: dict[str, Any]) -> LeanEngineServer:
    """Give a Socket.IO server a `LeanEngineServer`, built from the options the server was built with.

    Flask-SocketIO builds its `socketio.Server` itself, and python-socketio builds its Engine.IO server
    in that constructor (`_engineio_server_class`), so the choice can only be made right after: call
    this before any connection and before anything registers Engine.IO handlers of its own.
    """
    if server.eio.sockets:
        raise RuntimeError("the Engine.IO server has connections already")
    engine_options = {key: value for key, value in options.items() if key not in _SOCKETIO_ONLY_OPTIONS}
    if "engineio_logger" in engine_options:
        engine_options["logger"] = engine_options.pop("engineio_logger")
    engine_options["async_handlers"] = False  # as python-socketio sets it
    engine = LeanEngineServer(**engine_options)
    engine.handlers = dict(server.eio.handlers)
    server.eio = engine
    return engine
