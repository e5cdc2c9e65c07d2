"""Hardening of Socket.IO (issue 14): typing only within a chat and under one per-user limit, malformed
packets dropped quietly and counted, and at most MAX_SOCKETS_PER_USER sockets per user on all
processes together."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import gevent
import pytest

from chatbox.processes import RedisServer, start_redis_server
from tests.support.raw_websocket import TEXT, RawWebSocket
from tests.support.served import served_app
from tests.support.sockets import LiveApi, Socket, refused, wait_until


@pytest.fixture
def opened() -> Iterator[list[Any]]:
    things: list[Any] = []
    yield things
    for thing in things:
        thing.close()


# --- typing ------------------------------------------------------------------------------------------


def test_typing_reaches_only_chat_partners_and_carries_the_chat(tmp_path: Any, opened: list[Any]) -> None:
    with served_app(tmp_path) as (_app, url):
        live = LiveApi(url)
        alice, bob, stranger = live.signup("Alice"), live.signup("Bob"), live.signup("Stranger")
        chat_id = live.send(alice, bob, "hello")["chatId"]
        alice_socket, bob_socket, stranger_socket = (Socket(url, u) for u in (alice, bob, stranger))
        opened.extend([alice_socket, bob_socket, stranger_socket])
        for event in ("typing", "stop-typing"):
            ack = stranger_socket.call(event, {"to": alice.id})
            assert ack["ok"] is False and ack["code"] == "no_chat" and ack["message"], ack
            assert alice_socket.call(event, {"to": bob.id}) == {"ok": True}
            assert bob_socket.wait_for(event) == [{"from": alice.id, "chatId": chat_id}]
        # The refused ones never arrived (Bob's events above came after them on the same path).
        assert alice_socket.received("typing") == [] and alice_socket.received("stop-typing") == []
        assert stranger_socket.client.connected


def test_typing_is_limited_per_user_across_all_sockets_without_dropping_any(tmp_path: Any, opened: list[Any]) -> None:
    overrides = {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_TYPING": "6/minute",
        "RATELIMIT_SOCKET_EVENTS": "1000/minute",
        # Typing refusals must not count as flooding: with this budget they would drop the sockets.
        "RATELIMIT_SOCKET_REFUSALS": "2/minute",
    }
    with served_app(tmp_path, overrides) as (_app, url):
        live = LiveApi(url)
        alice, bob, carol = live.signup("Alice"), live.signup("Bob"), live.signup("Carol")
        live.send(alice, bob, "hello")
        live.send(carol, bob, "hello")
        bob_socket = Socket(url, bob)
        alice_sockets = [Socket(url, alice) for _ in range(3)]
        carol_socket = Socket(url, carol)
        opened.extend([bob_socket, *alice_sockets, carol_socket])
        acks = [s.call("typing", {"to": bob.id}) for _ in range(4) for s in alice_sockets]
        assert [a["ok"] for a in acks] == [True] * 6 + [False] * 6
        assert {a.get("code") for a in acks[6:]} == {"rate_limited"}
        assert all(s.client.connected for s in alice_sockets)
        # Another user's budget is their own.
        assert carol_socket.call("typing", {"to": bob.id}) == {"ok": True}
        wait_until(lambda: len(bob_socket.received("typing")) == 7, "Bob to get exactly the allowed typing events")
        gevent.sleep(0.3)
        assert len(bob_socket.received("typing")) == 7


# --- malformed packets -------------------------------------------------------------------------------

MALFORMED = [b"44", b"4\x00", b"42[{}]", b'42[{"a":1}]', b"42[]", b"42[", b"4X", b'42"x"', b"49", b"42[null]"]


def _records(caplog: Any) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_malformed_packets_are_dropped_with_one_short_log_line_per_connection(
    tmp_path: Any, caplog: Any, opened: list[Any]
) -> None:
    overrides = {"RATELIMIT_ENABLED": True, "RATELIMIT_SOCKET_EVENTS": "10000/minute"}
    with served_app(tmp_path, overrides) as (_app, url):
        user = LiveApi(url).signup("Signed In")
        anonymous, signed_in = RawWebSocket(url), RawWebSocket(url)
        opened.extend([anonymous, signed_in])
        for raw in (anonymous, signed_in):
            assert raw.read_frame()[1].startswith(b"0{")
        signed_in.send_frame(TEXT, b'40{"token":"' + user.token.encode() + b'"}')
        assert signed_in.read_frame()[1].startswith(b"40{")
        caplog.clear()
        with caplog.at_level(logging.INFO):
            for _ in range(30):
                for packet in MALFORMED:
                    anonymous.send_frame(TEXT, packet)
                    signed_in.send_frame(TEXT, packet)
            # An event whose name is not a string, asking for an ack, gets an answer.
            signed_in.send_frame(TEXT, b'427[{"a":1}]')
            while True:
                _opcode, payload = signed_in.read_frame()
                if payload.startswith(b"437"):
                    break
            assert b'"ok":false' in payload and b'"code":"invalid_event"' in payload
            # Both connections still work.
            signed_in.send_frame(TEXT, b'428["typing",{"to":"not-an-id"}]')
            while not (payload := signed_in.read_frame()[1]).startswith(b"438"):
                pass
            assert b"validation_error" in payload
        records = _records(caplog)
        assert len(records) <= 2, [r.getMessage() for r in records]
        assert all(r.exc_info is None and len(r.getMessage()) < 200 for r in records)
        assert all(user.token not in r.getMessage() for r in caplog.records)
        text = "\n".join(r.getMessage() for r in caplog.records)
        assert "Traceback" not in text and "handler error" not in text


def test_malformed_engineio_packets_end_no_request_with_a_traceback(tmp_path: Any, caplog: Any) -> None:
    """Below Socket.IO: python-engineio raised on these out of the whole websocket (a traceback per
    connection), logged a traceback per long-polling POST, or held the POST until the session timed out."""
    import json

    import requests

    with served_app(tmp_path) as (_app, url), caplog.at_level(logging.INFO):
        for packet in (b"", b"x", b"9", b"b!!"):
            raw = RawWebSocket(url)
            try:
                raw.read_frame()
                raw.send_frame(TEXT, packet)
                assert raw.close_code() == 1003, packet
            finally:
                raw.close()
        for body in (b"x", b"\x1e\x1e", b"9", b"6", b"2", b"4\x1ex", b"bAAA", b"\xff"):
            handshake = requests.get(f"{url}/socket.io/?EIO=4&transport=polling", timeout=10)
            sid = json.loads(handshake.text[1:])["sid"]
            answer = requests.post(f"{url}/socket.io/?EIO=4&transport=polling&sid={sid}", data=body, timeout=10)
            assert answer.status_code == 400 and answer.json()["code"] == "bad_request", body
        # A well-formed payload still goes through.
        handshake = requests.get(f"{url}/socket.io/?EIO=4&transport=polling", timeout=10)
        sid = json.loads(handshake.text[1:])["sid"]
        answer = requests.post(f"{url}/socket.io/?EIO=4&transport=polling&sid={sid}", data=b"40", timeout=10)
        assert answer.status_code == 200
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]


def test_malformed_packets_count_against_the_event_budget(tmp_path: Any, opened: list[Any]) -> None:
    overrides = {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_SOCKET_EVENTS": "20/minute",
        "RATELIMIT_SOCKET_REFUSALS": "5/minute",
    }
    with served_app(tmp_path, overrides) as (_app, url):
        user = LiveApi(url).signup("Flooder")
        socket = Socket(url, user)
        opened.append(socket)
        raw = RawWebSocket(url)
        opened.append(raw)
        raw.read_frame()
        for _ in range(5):
            raw.send_frame(TEXT, b"42[]")
        # The signed-in client's malformed packets use the same budget as its events.
        eio_socket = socket.client.eio
        for _ in range(15):
            eio_socket.send(b'42[{"a":1}]'.decode())
        acks = [socket.call("typing", {"to": "not-an-id"}) for _ in range(6)]
        assert any(a.get("code") == "rate_limited" for a in acks), acks
        # A connection that goes on sending garbage past its budget is closed.
        for _ in range(40):
            raw.send_frame(TEXT, b"42[]")
        raw.wait_closed()


# --- sockets per user --------------------------------------------------------------------------------


def test_one_user_holds_at_most_max_sockets_per_user(tmp_path: Any, opened: list[Any]) -> None:
    # The refused long-polling client ends only when its pending poll returns, at the next ping: a short
    # ping interval keeps that wait short.
    with served_app(tmp_path, {"MAX_SOCKETS_PER_USER": 3, "SOCKET_PING_INTERVAL_SECONDS": 1}) as (_app, url):
        live = LiveApi(url)
        user, other = live.signup("Many Tabs"), live.signup("Other")
        sockets = [Socket(url, user) for _ in range(3)]
        opened.extend(sockets)
        assert refused(url, auth={"token": user.token}) == {"message": "Too many connections"}
        assert refused(url, auth={"token": user.token}, transports=["polling"]) == {"message": "Too many connections"}
        # Another user is not affected, and a closed socket frees its place.
        opened.append(Socket(url, other))
        sockets[0].close()
        fresh = wait_until(lambda: _try_connect(url, user.token), "a place to free up")
        opened.append(fresh)
        assert fresh.client.connected


def _try_connect(url: str, token: str) -> Socket | None:
    try:
        return Socket(url, None, auth={"token": token})
    except Exception:
        return None


@pytest.fixture
def redis_server(tmp_path_factory: Any) -> Iterator[RedisServer]:
    server = start_redis_server(tmp_path_factory.mktemp("redis-cap"))
    yield server
    server.stop()


def test_the_socket_cap_counts_every_process(tmp_path: Any, redis_server: RedisServer, opened: list[Any]) -> None:
    from tests.support.inprocess import start_node

    secret = "cap-test-secret-" + "x" * 32
    config = {"REDIS_URL": redis_server.url, "JWT_SECRET_KEY": secret, "SECRET_KEY": secret, "MAX_SOCKETS_PER_USER": 3}
    first, second = (start_node(tmp_path / f"node-{i}", config) for i in range(2))
    try:
        user = LiveApi(first.url).signup("Two Nodes")
        opened.extend([Socket(first.url, user), Socket(first.url, user), Socket(second.url, user)])
        for node in (first, second):
            assert refused(node.url, auth={"token": user.token}) == {"message": "Too many connections"}
        opened[-1].close()
        wait_until(lambda: first.rt.presence.connection_count(user.id) == 2, "the closed socket to be forgotten")
        opened.append(Socket(first.url, user))
        assert refused(second.url, auth={"token": user.token}) == {"message": "Too many connections"}
    finally:
        for socket in opened:
            socket.close()
        opened.clear()
        first.stop()
        second.stop()
