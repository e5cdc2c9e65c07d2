"""The Engine.IO layer with one greenlet per websocket (chatbox/realtime/engine.py): packets written
directly, in order, without blocking the sender; pings from one scheduler; dead clients still dropped
at the ping timeout; long-polling and the upgrade from it unchanged."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import gevent
import pytest
from gevent import socket as gsocket

from chatbox import socketio_of
from chatbox.realtime.engine import LeanEngineServer, LeanSocket, OrderedWriter, PingScheduler
from tests.support.raw_websocket import CLOSE, TEXT, RawWebSocket
from tests.support.served import served_app
from tests.support.sockets import LiveApi, Socket, wait_until

FAST_PINGS = {"SOCKET_PING_INTERVAL_SECONDS": 1, "SOCKET_PING_TIMEOUT_SECONDS": 1}


def _engine_sockets(app: Any) -> list[Any]:
    return list(socketio_of(app).server.eio.sockets.values())


def _signed_in_raw_socket(url: str, token: str) -> tuple[RawWebSocket, dict[str, Any]]:
    raw = RawWebSocket(url)
    opcode, payload = raw.read_frame()
    assert opcode == TEXT and payload.startswith(b"0{")
    handshake = json.loads(payload[1:])
    raw.send_frame(TEXT, b"40" + json.dumps({"token": token}).encode())
    while True:
        opcode, payload = raw.read_frame()
        if payload.startswith(b"40"):
            return raw, handshake


def test_the_server_uses_the_lean_engine_and_a_websocket_writes_directly(tmp_path: Path) -> None:
    with served_app(tmp_path) as (app, url):
        assert isinstance(socketio_of(app).server.eio, LeanEngineServer)
        live = LiveApi(url)
        user = live.signup("Direct")
        client = Socket(url, user)
        try:
            (engine_socket,) = _engine_sockets(app)
            assert isinstance(engine_socket, LeanSocket)
            assert engine_socket.ws is not None  # no writer greenlet: packets go straight out
            assert engine_socket.queue.qsize() == 0
        finally:
            client.close()


def test_a_client_that_stops_answering_pings_is_dropped_at_the_ping_timeout(tmp_path: Path) -> None:
    with served_app(tmp_path, FAST_PINGS) as (app, url):
        live = LiveApi(url)
        silent_user, watcher_user = live.signup("Silent"), live.signup("Watcher")
        live.send(watcher_user, silent_user, "hello")  # contacts see each other's presence
        watcher = Socket(url, watcher_user)
        raw, handshake = _signed_in_raw_socket(url, silent_user.token)
        try:
            assert (handshake["pingInterval"], handshake["pingTimeout"]) == (1000, 1000)
            (engine_socket,) = [s for s in _engine_sockets(app) if s.ws is not None and s.sid == handshake["sid"]]
            # The server pings; the client never answers...
            payload = raw.read_frame()[1]
            while payload != b"2":
                payload = raw.read_frame()[1]
            # ...so the server closes the connection (a websocket close frame) and ends the session.
            raw.wait_closed()
            wait_until(lambda: engine_socket.closed, "the silent socket to be closed")
            wait_until(lambda: handshake["sid"] not in socketio_of(app).server.eio.sockets, "the socket to be gone")
            offline = watcher.wait_for("user-offline", lambda d: d["userId"] == silent_user.id)
            assert offline
            assert watcher.client.connected  # the watcher answers its pings and stays
        finally:
            raw.close()
            watcher.close()


def test_a_client_that_answers_pings_stays_connected_through_several_of_them(tmp_path: Path) -> None:
    with served_app(tmp_path, FAST_PINGS) as (app, url):
        live = LiveApi(url)
        user = live.signup("Answering")
        raw, handshake = _signed_in_raw_socket(url, user.token)
        try:
            pings = 0
            while pings < 4:
                opcode, payload = raw.read_frame()
                assert opcode != CLOSE
                if payload == b"2":
                    pings += 1
                    raw.send_frame(TEXT, b"3")
            engine_socket = socketio_of(app).server.eio.sockets[handshake["sid"]]
            assert not engine_socket.closed
            # One scheduler greenlet serves every socket's pings; it holds this socket's next one.
            scheduler = socketio_of(app).server.eio.ping_scheduler
            wait_until(lambda: any(sock is engine_socket for _, sock in scheduler.due), "the next ping to be due")
        finally:
            raw.close()


@pytest.mark.parametrize(
    "transports",
    [["websocket"], ["polling"], ["polling", "websocket"]],
    ids=["websocket", "polling", "upgrade"],
)
def test_events_arrive_in_the_order_sent_on_every_transport(tmp_path: Path, transports: list[str]) -> None:
    # python-engineio's client refuses a long-polling response of more than 16 packets (its
    # `max_decode_packets`), and one poll can carry every event that waited: fewer events on polling.
    count = 12 if transports == ["polling"] else 40
    with served_app(tmp_path) as (app, url):
        live = LiveApi(url)
        alice, bob = live.signup("Sender"), live.signup("Receiver")
        bob_socket = Socket(url, bob, transports=transports)
        alice_socket = Socket(url, alice)
        try:
            if transports == ["polling", "websocket"]:
                wait_until(lambda: bob_socket.client.transport() == "websocket", "the upgrade to websocket")
            acks: list[Any] = []
            texts = [f"m{i}" for i in range(count)]
            for i, text in enumerate(texts):
                message = {"to": bob.id, "text": text, "clientMessageId": f"{transports[-1]}-{i}"}
                alice_socket.client.emit("new-message", message, callback=acks.append)
            wait_until(lambda: len(acks) == count, "every ack")
            assert [m["text"] for m in bob_socket.wait_for("new-message", count=count)] == texts
            if transports != ["polling"]:
                bob_engine = [s for s in _engine_sockets(app) if s.ws is not None]
                assert len(bob_engine) == 2  # both sockets write directly once on websocket
        finally:
            alice_socket.close()
            bob_socket.close()


# --- the writer and the scheduler on their own -------------------------------------------------------


def _pair_with_small_buffers() -> tuple[gsocket.socket, gsocket.socket]:
    left, right = gsocket.socketpair()
    left.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    right.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return left, right


def _read_exactly(sock: gsocket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "the writer's side closed early"
        data += chunk
    return data


def test_writes_to_a_reader_that_does_not_read_return_at_once_and_arrive_whole_and_in_order() -> None:
    left, right = _pair_with_small_buffers()
    writer = OrderedWriter(left)
    frames = [f"{i:05d}:".encode() + bytes([65 + i % 26]) * 2000 for i in range(300)]
    try:
        # Three greenlets interleave their writes; none may block on the reader, which has read nothing.
        done: list[int] = []

        def write_every_third(start: int) -> None:
            for frame in frames[start::3]:
                writer.write(frame)
            done.append(start)

        writers = [gevent.spawn(write_every_third, k) for k in range(3)]
        gevent.joinall(writers, timeout=5)
        assert sorted(done) == [0, 1, 2]
        assert writer.backlog  # the kernel did not take it all: the rest waits in order
        expected = b"".join(frames[k] for k in _interleaving(len(frames)))
        assert _read_exactly(right, len(expected)) == expected
        wait_until(lambda: writer.flusher is None and writer.backlog is None, "the backlog to be written")
        writer.write(b"after")  # with nothing waiting, straight to the kernel again
        assert writer.flusher is None
        assert _read_exactly(right, 5) == b"after"
    finally:
        left.close()
        right.close()


def _interleaving(n: int) -> list[int]:
    """The order in which the three greenlets above write: round robin, each writes until it yields;
    a write never yields, so each greenlet writes all its frames before the next one runs."""
    return [i for k in range(3) for i in range(k, n, 3)]


def test_a_broken_connection_fails_later_writes_and_ends_the_backlog() -> None:
    left, right = _pair_with_small_buffers()
    writer = OrderedWriter(left)
    try:
        for _ in range(100):
            writer.write(b"x" * 4000)
        assert writer.backlog
        right.close()
        wait_until(lambda: writer.broken and writer.flusher is None, "the flusher to notice the broken connection")
        with pytest.raises(OSError):
            writer.write(b"more")
    finally:
        left.close()


def test_one_scheduler_pings_sockets_in_due_order_then_stops() -> None:
    # An interval far longer than adding three sockets takes, even on a loaded machine: none is due early.
    server = LeanEngineServer(async_mode="gevent", ping_interval=2, monitor_clients=False)
    pinged: list[str] = []

    class Probe:
        def __init__(self, sid: str) -> None:
            self.sid = sid

        def ping_now(self) -> None:
            pinged.append(self.sid)

    scheduler = PingScheduler(server)
    for sid in ("a", "b", "c"):
        scheduler.add(Probe(sid))  # type: ignore[arg-type]
        gevent.sleep(0.01)
    assert scheduler.running and pinged == []
    wait_until(lambda: len(pinged) == 3, "every ping")
    assert pinged == ["a", "b", "c"]
    wait_until(lambda: not scheduler.running, "the scheduler's greenlet to end with nothing due")
