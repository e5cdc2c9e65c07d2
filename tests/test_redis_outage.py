"""With REDIS_URL set and Redis unreachable (a real redis-server, stopped with SIGSTOP, or shut down and
started again): sends answer 503 `queue_unavailable` with Retry-After at once instead of hanging and
failing with 500, /healthz says 503, a retry with the same clientMessageId stores exactly one copy,
nothing acknowledged is lost, and the process recovers by itself when Redis is back (issue 14)."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from typing import Any

import gevent
import pytest
import requests

from chatbox.processes import RedisServer, start_redis_server
from chatbox.realtime.scale_out import QUEUE_CHANNEL, QueueManager
from tests.support.database import empty_database
from tests.support.inprocess import Node, start_node
from tests.support.sockets import LiveApi, LiveUser, Socket, wait_until

SECRET = "outage-test-secret-" + "x" * 32
# Far above the 2 s the rule allows and far below the 10 s hang this replaces: only a bound, so that
# a busy machine cannot make the test flaky.
ANSWER_BOUND_SECONDS = 6.0


@pytest.fixture
def redis_server(tmp_path: Any) -> Iterator[RedisServer]:
    server = start_redis_server(tmp_path)
    yield server
    if server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGCONT)
    server.stop()


@pytest.fixture
def node(redis_server: RedisServer, tmp_path: Any) -> Iterator[Node]:
    started = start_node(
        tmp_path / "uploads", {"REDIS_URL": redis_server.url, "JWT_SECRET_KEY": SECRET, "SECRET_KEY": SECRET}
    )
    probe = redis_server.client()
    wait_until(lambda: probe.pubsub_numsub(QUEUE_CHANNEL)[0][1] >= 1, "the node to listen to the queue")
    yield started
    started.stop()
    empty_database()


def _send(node: Node, sender: LiveUser, receiver: LiveUser, text: str, client_id: str) -> requests.Response:
    return requests.post(
        f"{node.url}/api/messages/send/{receiver.id}",
        json={"text": text, "clientMessageId": client_id},
        headers=sender.headers,
        timeout=ANSWER_BOUND_SECONDS,
    )


def _health(node: Node) -> requests.Response:
    return requests.get(f"{node.url}/healthz", timeout=ANSWER_BOUND_SECONDS)


def _stored(live: LiveApi, reader: LiveUser, other: LiveUser, text: str) -> int:
    history = live.call("GET", f"/api/messages/{other.id}", reader, params={"limit": 100}).json()
    return sum(1 for m in history if m["text"] == text)


def _assert_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "queue_unavailable" and response.json()["message"]
    assert int(response.headers["Retry-After"]) >= 1


def test_the_send_documents_its_503() -> None:
    from chatbox import create_app

    document = create_app({"AUTO_CREATE_INDEXES": False}).test_client().get("/api/openapi.json").get_json()
    answer = document["paths"]["/api/messages/send/{userId}"]["post"]["responses"]["503"]
    assert "queue_unavailable" in answer["description"] and "Retry-After" in answer["headers"]


def _assert_outage_answers(node: Node, live: LiveApi, alice: LiveUser, bob: LiveUser, socket: Socket) -> None:
    for _ in range(3):  # the first finds out, the next ones are refused at once
        _assert_unavailable(_send(node, alice, bob, "during the outage", "outage-1"))
    health = _health(node)
    assert health.status_code == 503
    assert health.json() == {"status": "error", "database": "ok", "queue": "error"}
    payload = {"to": bob.id, "text": "socket during the outage", "clientMessageId": "outage-2"}
    ack = socket.call("new-message", payload)
    assert ack["ok"] is False and ack["code"] == "queue_unavailable", ack
    # Reading needs no queue: it keeps working.
    assert live.call("GET", f"/api/messages/{bob.id}", alice).status_code == 200


def _assert_recovered(node: Node, live: LiveApi, alice: LiveUser, bob: LiveUser, bob_socket: Socket) -> None:
    wait_until(lambda: _health(node).status_code == 200, "the node to see Redis again")
    # The retries store exactly one copy each, and go out live.
    for text, client_id in (("during the outage", "outage-1"), ("socket during the outage", "outage-2")):
        retried = wait_until(lambda t=text, c=client_id: _ok_send(node, alice, bob, t, c), "a retry to go through")
        assert retried.status_code in (200, 201)
        assert _stored(live, bob, alice, text) == 1
        again = _send(node, alice, bob, text, client_id)
        assert again.status_code == 200 and again.json()["_id"] == retried.json()["_id"]
    after = _send(node, alice, bob, "after the outage", "after-1")
    assert after.status_code == 201
    bob_socket.wait_for("new-message", lambda m: m["_id"] == after.json()["_id"])
    # Nothing acknowledged before the outage was lost.
    assert _stored(live, bob, alice, "before the outage") == 1


def _ok_send(node: Node, alice: LiveUser, bob: LiveUser, text: str, client_id: str) -> requests.Response | None:
    response = _send(node, alice, bob, text, client_id)
    return response if response.status_code in (200, 201) else None


def test_a_frozen_redis_gives_fast_503s_and_the_node_recovers(node: Node, redis_server: RedisServer) -> None:
    live = LiveApi(node.url)
    alice, bob = live.signup("Alice"), live.signup("Bob")
    assert _send(node, alice, bob, "before the outage", "before-1").status_code == 201
    alice_socket, bob_socket = Socket(node.url, alice), Socket(node.url, bob)
    try:
        os.kill(redis_server.process.pid, signal.SIGSTOP)
        try:
            _assert_outage_answers(node, live, alice, bob, alice_socket)
            # Sign-ins do not need the queue: their rate limit counts locally meanwhile.
            credentials = {"email": alice.email, "password": "correct horse battery"}
            assert live.call("POST", "/api/auth/login", json=credentials).status_code == 200
        finally:
            os.kill(redis_server.process.pid, signal.SIGCONT)
        _assert_recovered(node, live, alice, bob, bob_socket)
    finally:
        alice_socket.close()
        bob_socket.close()


def test_a_redis_that_goes_away_and_comes_back(node: Node, redis_server: RedisServer, tmp_path: Any) -> None:
    live = LiveApi(node.url)
    alice, bob = live.signup("Alice"), live.signup("Bob")
    assert _send(node, alice, bob, "before the outage", "before-1").status_code == 201
    alice_socket, bob_socket = Socket(node.url, alice), Socket(node.url, bob)
    restarted: RedisServer | None = None
    try:
        redis_server.stop()
        _assert_outage_answers(node, live, alice, bob, alice_socket)
        (tmp_path / "again").mkdir()
        restarted = start_redis_server(tmp_path / "again", port=redis_server.port)
        probe = restarted.client()
        wait_until(lambda: probe.pubsub_numsub(QUEUE_CHANNEL)[0][1] >= 1, "the node to listen to the queue again")
        _assert_recovered(node, live, alice, bob, bob_socket)
        # Presence came back too: the node wrote its sockets to the new Redis.
        wait_until(lambda: node.rt.presence.connection_count(bob.id) == 1, "Bob's socket to count again")
    finally:
        alice_socket.close()
        bob_socket.close()
        if restarted is not None:
            restarted.stop()


def test_a_forward_during_an_outage_answers_503_and_stores_nothing(node: Node, redis_server: RedisServer) -> None:
    """A forward is a send (new messages): refused whole with 503 while Redis is unreachable, never
    half-stored (a copy nobody was told about, and a retry that stores it twice)."""
    live = LiveApi(node.url)
    alice, bob, carol, dave = (live.signup(name) for name in ("Alice", "Bob", "Carol", "Dave"))
    original = _send(node, alice, bob, "forward me", "fwd-1").json()
    for friend in (carol, dave):
        assert _send(node, alice, friend, "hello", f"hello-{friend.id}").status_code == 201
    # Carol has her chat with Alice open on this node: whether she views it is known without Redis.
    carol_socket = Socket(node.url, carol)
    assert carol_socket.call("join-chat", {"userId": alice.id})["ok"] is True
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        for _ in range(2):  # the first finds out, the next is refused at once
            forward = requests.post(
                f"{node.url}/api/messages/{original['_id']}/forward",
                json={"to": [carol.id, dave.id]},
                headers=alice.headers,
                timeout=ANSWER_BOUND_SECONDS,
            )
            _assert_unavailable(forward)
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    wait_until(lambda: _health(node).status_code == 200, "the node to see Redis again")
    try:
        assert _stored(live, carol, alice, "forward me") == 0 and _stored(live, dave, alice, "forward me") == 0
    finally:
        carol_socket.close()


def test_changes_other_than_sends_answer_during_an_outage_and_their_events_arrive(
    node: Node, redis_server: RedisServer
) -> None:
    """An edit, a reaction and a read receipt need no queue to be stored: with Redis frozen they answer
    within the bound (never hang on the event's publication), and their events still reach the sockets
    concerned (the stream is stored; each process checks its sockets' streams)."""
    live = LiveApi(node.url)
    alice, bob = live.signup("Alice"), live.signup("Bob")
    sent = _send(node, alice, bob, "before", "change-1").json()
    alice_socket, bob_socket = Socket(node.url, alice), Socket(node.url, bob)
    calls = (
        ("PATCH", f"/api/messages/{sent['_id']}", alice, {"text": "edited during the outage"}),
        ("PUT", f"/api/messages/{sent['_id']}/reactions", bob, {"emoji": "👍"}),
        ("PUT", f"/api/messages/read/{sent['_id']}", bob, None),
    )
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        answers = [
            requests.request(method, f"{node.url}{path}", json=body, headers=user.headers, timeout=ANSWER_BOUND_SECONDS)
            for method, path, user, body in calls
        ]
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    try:
        assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
        bob_socket.wait_for("message-updated", lambda m: m["text"] == "edited during the outage")
        alice_socket.wait_for("message-reactions", lambda r: r["reactions"][0]["emoji"] == "👍")
        alice_socket.wait_for("messages-read", lambda r: r["messageIds"] == [sent["_id"]])
    finally:
        alice_socket.close()
        bob_socket.close()


def test_a_node_that_cannot_hear_the_queue_checks_sessions_on_the_database(
    node: Node, redis_server: RedisServer, tmp_path: Any
) -> None:
    """While its queue listener has lost Redis, a node misses other processes' announcements: it keeps no
    session cache, so a change written by another process (here straight to the database) still refuses
    the next event; once it listens again it caches afresh."""
    from chatbox.models import User
    from chatbox.models.ids import utcnow

    live = LiveApi(node.url)
    alice, bob = live.signup("Alice"), live.signup("Bob")
    socket = Socket(node.url, alice)
    cache = node.rt.sessions.cache
    restarted: RedisServer | None = None
    try:
        assert socket.call("leave-chat", {"userId": bob.id}) == {"ok": True}
        assert alice.id in cache
        redis_server.stop()
        wait_until(lambda: not cache.usable, "the node to notice it lost the queue")
        User.objects(id=alice.id).update_one(set__is_blocked=True, set__sessions_changed_at=utcnow())
        ack = socket.call("leave-chat", {"userId": bob.id})
        assert ack["ok"] is False and ack["code"] == "account_blocked", ack

        (tmp_path / "again").mkdir()
        restarted = start_redis_server(tmp_path / "again", port=redis_server.port)
        wait_until(lambda: cache.usable, "the node to listen to the queue again")
        bob_socket = Socket(node.url, bob)
        try:
            assert bob_socket.call("leave-chat", {"userId": alice.id}) == {"ok": True}
            assert bob.id in cache
        finally:
            bob_socket.close()
    finally:
        socket.close()
        if restarted is not None:
            restarted.stop()


def test_group_sends_and_changes_answer_503_during_an_outage(node: Node, redis_server: RedisServer) -> None:
    live = LiveApi(node.url)
    alice, bob = live.signup("Alice"), live.signup("Bob")
    created = live.call("POST", "/api/chats", alice, json={"name": "Outage", "memberIds": [bob.id]})
    assert created.status_code == 201, created.text
    chat_id = created.json()["_id"]
    body = {"text": "group during the outage", "clientMessageId": "group-outage-1"}
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        # Right after the freeze the process may not know yet: the send is refused (503), or stored and
        # answered (its events wait in the stream); never a hang nor a 500, and a retry is safe.
        first = requests.post(
            f"{node.url}/api/chats/{chat_id}/messages", json=body, headers=alice.headers, timeout=ANSWER_BOUND_SECONDS
        )
        assert first.status_code in (201, 503), first.text
        wait_until(lambda: _health(node).status_code == 503, "the node to notice the outage")
        _assert_unavailable(live.call("POST", "/api/chats", alice, json={"name": "Later", "memberIds": [bob.id]}))
        _assert_unavailable(live.call("PATCH", f"/api/chats/{chat_id}", alice, json={"name": "Renamed"}))
        assert live.call("GET", f"/api/chats/{chat_id}/messages", bob).status_code == 200
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    wait_until(lambda: _health(node).status_code == 200, "the node to see Redis again")
    retried = wait_until(
        lambda: (r := live.call("POST", f"/api/chats/{chat_id}/messages", alice, json=body)).status_code in (200, 201)
        and r,
        "a retry to go through",
    )
    history = live.call("GET", f"/api/chats/{chat_id}/messages", bob).json()
    assert [m["_id"] for m in history if m["text"] == "group during the outage"] == [retried.json()["_id"]]
    assert live.call("GET", f"/api/chats/{chat_id}", bob).json()["name"] == "Outage"


def test_the_queue_listener_logs_an_outage_once_and_stops_with_the_node(
    redis_server: RedisServer, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """While Redis stays down the listener retries every LISTEN_RETRY_SECONDS: one warning when it loses
    Redis, one when it is back, none per retry; and a stopped node's listener stops retrying (a test
    that stopped its node and its Redis used to see warnings in every later test of its process)."""
    started = start_node(tmp_path / "uploads", {"REDIS_URL": redis_server.url, "JWT_SECRET_KEY": SECRET})
    manager = started.app.extensions["chatbox.socketio"].server.manager
    assert isinstance(manager, QueueManager)
    probe = redis_server.client()
    wait_until(lambda: probe.pubsub_numsub(QUEUE_CHANNEL)[0][1] >= 1, "the node to listen to the queue")

    def listener_lines(level: int) -> list[str]:
        return [r.getMessage() for r in caplog.records if "queue listener" in r.getMessage() and r.levelno >= level]

    restarted: RedisServer | None = None
    try:
        with caplog.at_level(logging.DEBUG, logger="chatbox.realtime"):
            redis_server.stop()
            wait_until(lambda: len(listener_lines(logging.DEBUG)) >= 3, "the listener to retry twice")
            (tmp_path / "again").mkdir()
            restarted = start_redis_server(tmp_path / "again", port=redis_server.port)
            probe = restarted.client()
            wait_until(lambda: probe.pubsub_numsub(QUEUE_CHANNEL)[0][1] >= 1, "the node to listen again")
            wait_until(lambda: len(listener_lines(logging.WARNING)) >= 2, "the listener to say it is back")
        warned = listener_lines(logging.WARNING)
        assert len(warned) == 2, listener_lines(logging.DEBUG)
        assert warned[0].startswith("Socket.IO queue listener lost Redis (")
        assert warned[1].startswith("Socket.IO queue listener is back after ")
    finally:
        started.stop()
        if restarted is not None:
            restarted.stop()
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="chatbox.realtime"):
        wait_until(lambda: manager.thread.dead, "the stopped node's listener to end")
        gevent.sleep(manager.LISTEN_RETRY_SECONDS * 2)  # a listener still running would have retried
    assert listener_lines(logging.DEBUG) == []
    empty_database()
