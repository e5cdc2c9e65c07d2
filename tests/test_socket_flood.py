"""Socket event floods against a real server (gunicorn + gevent-websocket) with rate limits on.

Budgets are per minute here so that "a flood" is the same on any machine; the defaults (per second)
are checked in test_abuse_limits.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gevent
import pytest

from tests.support.live import LiveServer, start_live_server
from tests.support.sockets import WAIT_SECONDS, LiveApi, Socket, wait_until

# Starts its own servers or browsers (the `slow` marker: pytest.ini).
pytestmark = pytest.mark.slow

SOCKET_BUDGET = 40
SEND_BUDGET = 20
FLOOD = 100


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: Any) -> Iterator[LiveServer]:
    server = start_live_server(
        tmp_path_factory.mktemp("flood"),
        extra_env={
            "RATELIMIT_ENABLED": "true",
            "RATELIMIT_SOCKET_EVENTS": f"{SOCKET_BUDGET}/minute",
            "RATELIMIT_SEND": f"{SEND_BUDGET}/minute",
            "RATELIMIT_SOCKET_REFUSALS": "1000/minute",
            # Typing has its own per-user budget (test_hardening_sockets.py): here the socket's counts.
            "RATELIMIT_TYPING": "1000/minute",
        },
    )
    yield server
    server.stop()


@pytest.fixture
def sockets(limited_server: LiveServer) -> Iterator[Any]:
    opened: list[Socket] = []

    def open_socket(user: Any) -> Socket:
        socket = Socket(limited_server.url, user)
        opened.append(socket)
        return socket

    yield open_socket
    for socket in opened:
        socket.close()


def _flood(socket: Socket, event: str, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Emit every payload at once (no waiting between them) and collect every acknowledgement."""
    acks: list[dict[str, Any]] = []
    for payload in payloads:
        socket.client.emit(event, payload, callback=acks.append)
    with gevent.Timeout(WAIT_SECONDS, AssertionError(f"only {len(acks)} of {len(payloads)} acks")):
        while len(acks) < len(payloads):
            gevent.sleep(0.02)
    return acks


def _split(acks: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    refused = [a for a in acks if not a["ok"]]
    return len(acks) - len(refused), refused


def test_typing_flood_is_slowed_and_other_users_are_not(limited_server: LiveServer, sockets: Any) -> None:
    live = LiveApi(limited_server.url)
    flooder, target, alice, bob = (live.signup(n) for n in ("Flooder", "Target", "Alice", "Bob"))
    for sender, receiver in ((flooder, target), (alice, bob)):
        live.send(sender, receiver, "typing needs a chat")
    flooder_socket, target_socket = sockets(flooder), sockets(target)
    alice_socket, bob_socket = sockets(alice), sockets(bob)

    acks = _flood(flooder_socket, "typing", [{"to": target.id}] * FLOOD)
    accepted, refused = _split(acks)
    assert accepted == SOCKET_BUDGET
    assert all(a["code"] == "rate_limited" and a["message"] for a in refused)

    # Everyone else goes on as usual, on the same server, at once.
    assert alice_socket.call("typing", {"to": bob.id}) == {"ok": True}
    bob_socket.wait_for("typing", lambda d: d["from"] == alice.id)
    sent = alice_socket.call("new-message", {"to": target.id, "text": "still here"})
    assert sent["ok"] is True
    target_socket.wait_for("new-message", lambda m: m["_id"] == sent["message"]["_id"])
    # Everything the flooder got through reached the target before that message; nothing more did.
    assert len(target_socket.received("typing", lambda d: d["from"] == flooder.id)) == SOCKET_BUDGET


def test_message_flood_is_capped_by_the_send_budget(limited_server: LiveServer, sockets: Any) -> None:
    live = LiveApi(limited_server.url)
    flooder, target = live.signup("Spammer"), live.signup("Inbox")
    flooder_socket, target_socket = sockets(flooder), sockets(target)

    acks = _flood(flooder_socket, "new-message", [{"to": target.id, "text": f"spam {i}"} for i in range(FLOOD)])
    accepted, refused = _split(acks)
    assert accepted == SEND_BUDGET
    assert all(a["code"] == "rate_limited" for a in refused)
    # The REST route shares the same per-user budget.
    rest = live.call("POST", f"/api/messages/send/{target.id}", flooder, json={"text": "via REST"})
    assert rest.status_code == 429 and int(rest.headers["Retry-After"]) >= 1
    stored = live.call("GET", f"/api/messages/{flooder.id}", target, params={"limit": 100}).json()
    assert len(stored) == SEND_BUDGET
    other = live.signup("Unrelated")
    assert live.call("POST", f"/api/messages/send/{target.id}", other, json={"text": "hello"}).status_code == 201
    target_socket.wait_for("new-message", lambda m: m["text"] == "hello")


def test_a_persistent_flooder_is_disconnected(tmp_path: Any) -> None:
    server = start_live_server(
        tmp_path,
        extra_env={
            "RATELIMIT_ENABLED": "true",
            "RATELIMIT_SOCKET_EVENTS": f"{SOCKET_BUDGET}/minute",
            "RATELIMIT_SOCKET_REFUSALS": "10/minute",
            "RATELIMIT_TYPING": "1000/minute",
        },
    )
    try:
        live = LiveApi(server.url)
        flooder, target, bystander = live.signup("Flooder"), live.signup("Target"), live.signup("Bystander")
        for sender in (flooder, bystander):
            live.send(sender, target, "typing needs a chat")
        flooder_socket, target_socket = Socket(server.url, flooder), Socket(server.url, target)
        bystander_socket = Socket(server.url, bystander)
        acks: list[dict[str, Any]] = []
        for _ in range(FLOOD):
            if not flooder_socket.client.connected:
                break
            flooder_socket.client.emit("typing", {"to": target.id}, callback=acks.append)
        wait_until(lambda: not flooder_socket.client.connected, "the flooder is disconnected")
        refused = [a for a in acks if not a["ok"]]
        assert all(a["code"] == "rate_limited" for a in refused) and len(refused) >= 10
        assert len([a for a in acks if a["ok"]]) == SOCKET_BUDGET
        # The bystander's connection is untouched.
        assert bystander_socket.call("typing", {"to": target.id}) == {"ok": True}
        target_socket.wait_for("typing", lambda d: d["from"] == bystander.id)
        for socket in (target_socket, bystander_socket):
            socket.close()
    finally:
        server.stop()
