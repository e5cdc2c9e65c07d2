"""Group chats over Socket.IO against a real server process: sends by chatId, typing with chatId, delivery on
connect and by `message-delivered`, read on view (`join-chat {chatId}`) and on arrival, aggregate
`message-status`, `messages-read` per reader, member changes as events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.live import LiveServer
from tests.support.sockets import LiveApi, LiveUser, Socket, wait_until


@pytest.fixture
def live(live_server: LiveServer) -> LiveApi:
    return LiveApi(live_server.url)


@pytest.fixture
def sockets(live_server: LiveServer) -> Iterator[Any]:
    opened: list[Socket] = []

    def open_socket(user: LiveUser) -> Socket:
        socket = Socket(live_server.url, user)
        opened.append(socket)
        socket.wait_for("online-users")
        return socket

    yield open_socket
    for socket in opened:
        socket.close()


def _group(live: LiveApi, owner: LiveUser, members: list[LiveUser], name: str = "Crew") -> str:
    response = live.call("POST", "/api/chats", owner, json={"name": name, "memberIds": [m.id for m in members]})
    assert response.status_code == 201, response.text
    return str(response.json()["_id"])


def _history(live: LiveApi, user: LiveUser, chat_id: str) -> list[dict[str, Any]]:
    response = live.call("GET", f"/api/chats/{chat_id}/messages", user)
    assert response.status_code == 200, response.text
    return list(response.json())


def test_socket_send_by_chat_id_reaches_every_member_and_the_senders_other_devices(live: LiveApi, sockets: Any) -> None:
    alice, bob, carol = live.signup("Alice"), live.signup("Bob"), live.signup("Carol")
    alice_phone, alice_laptop, bob_socket, carol_socket = sockets(alice), sockets(alice), sockets(bob), sockets(carol)
    chat_id = _group(live, alice, [bob, carol])
    for socket in (alice_phone, bob_socket, carol_socket):
        assert socket.wait_for("new-chat")[0]["_id"] == chat_id
    ack = alice_phone.call("new-message", {"chatId": chat_id, "text": "hello crew", "clientMessageId": "s-1"})
    assert ack["ok"] is True and ack["message"]["chatId"] == chat_id and ack["message"]["receiverId"] is None
    message_id = ack["message"]["_id"]
    for socket in (alice_laptop, bob_socket, carol_socket):
        socket.wait_for("new-message", lambda m: m["_id"] == message_id)
    assert not alice_phone.received("new-message", lambda m: m["_id"] == message_id)
    # the sending socket learns its own seq of that new-message from the ack (the event stream)
    stored = live.call("GET", "/api/sync?limit=500", alice).json()["events"]
    (mine,) = [e for e in stored if e["event"] == "new-message" and e["data"]["_id"] == message_id]
    assert ack["seq"] == mine["seq"]
    # both targets, or neither: refused
    refused = alice_phone.call("new-message", {"chatId": chat_id, "to": bob.id, "text": "x"})
    assert refused["ok"] is False and refused["code"] == "validation_error"
    stranger = live.signup("Stranger")
    stranger_socket = sockets(stranger)
    refused = stranger_socket.call("new-message", {"chatId": chat_id, "text": "let me in"})
    assert refused == {"ok": False, "message": refused["message"], "code": "chat_not_found"}


def test_typing_in_a_group_carries_the_chat_id(live: LiveApi, sockets: Any) -> None:
    alice, bob, carol = live.signup("Alice"), live.signup("Bob"), live.signup("Carol")
    alice_socket, bob_socket, carol_socket = sockets(alice), sockets(bob), sockets(carol)
    chat_id = _group(live, alice, [bob, carol])
    assert bob_socket.call("typing", {"chatId": chat_id}) == {"ok": True}
    for socket in (alice_socket, carol_socket):
        assert socket.wait_for("typing")[0] == {"from": bob.id, "chatId": chat_id}
    assert bob_socket.call("stop-typing", {"chatId": chat_id}) == {"ok": True}
    alice_socket.wait_for("stop-typing")
    assert not bob_socket.received("typing")
    # a former member may no longer type there
    assert live.call("DELETE", f"/api/chats/{chat_id}/members/{carol.id}", carol).status_code == 200
    assert carol_socket.call("typing", {"chatId": chat_id})["code"] == "not_a_member"


def test_delivery_on_connect_and_read_on_view_give_aggregate_status(live: LiveApi, sockets: Any) -> None:
    alice, bob, carol = live.signup("Alice"), live.signup("Bob"), live.signup("Carol")
    alice_socket = sockets(alice)
    chat_id = _group(live, alice, [bob, carol])
    message = live.call("POST", f"/api/chats/{chat_id}/messages", alice, json={"text": "anyone?"}).json()
    assert message["status"] == "sent"
    bob_socket = sockets(bob)  # bob connects: delivered to him, but carol is still offline
    wait_until(
        lambda: live.call("GET", f"/api/chats/{chat_id}/messages/{message['_id']}/receipts", alice).json()[0][
            "deliveredAt"
        ],
        "bob's delivery receipt",
    )
    assert not alice_socket.received("message-status")
    carol_socket = sockets(carol)
    status = alice_socket.wait_for("message-status")[0]
    assert status["messageId"] == message["_id"] and status["status"] == "delivered" and status["chatId"] == chat_id
    # bob views the group: he reads it; alice hears who read what, the aggregate stays delivered
    assert bob_socket.call("join-chat", {"chatId": chat_id}) == {"ok": True, "updated": 1}
    read = alice_socket.wait_for("messages-read")[0]
    assert read["readerId"] == bob.id and read["messageIds"] == [message["_id"]] and read["chatId"] == chat_id
    assert len(alice_socket.received("message-status")) == 1
    # carol reads it by id: everyone has, so the aggregate becomes read
    assert carol_socket.call("message-read", {"messageId": message["_id"]}) == {"ok": True, "updated": 1}
    final = alice_socket.wait_for("message-status", count=2)[1]
    assert final["status"] == "read" and final["readAt"] is not None
    assert _history(live, carol, chat_id)[-1]["status"] == "read"
    # while bob views the group, what arrives is read at once
    second = live.call("POST", f"/api/chats/{chat_id}/messages", alice, json={"text": "still there?"}).json()
    alice_socket.wait_for("messages-read", lambda r: r["readerId"] == bob.id and second["_id"] in r["messageIds"])
    assert bob_socket.call("leave-chat", {"chatId": chat_id}) == {"ok": True}
    third = live.call("POST", f"/api/chats/{chat_id}/messages", alice, json={"text": "gone?"}).json()
    carol_socket.wait_for("new-message", lambda m: m["_id"] == third["_id"])
    rows = live.call("GET", f"/api/chats/{chat_id}/messages/{third['_id']}/receipts", alice).json()
    assert {r["userId"]: r["readAt"] for r in rows} == {bob.id: None, carol.id: None}


def test_message_delivered_event_for_a_group_message(live: LiveApi, sockets: Any) -> None:
    alice, bob = live.signup("Alice"), live.signup("Bob")
    alice_socket = sockets(alice)
    chat_id = _group(live, alice, [bob])
    message = live.call("POST", f"/api/chats/{chat_id}/messages", alice, json={"text": "ping"}).json()
    bob_socket = sockets(bob)
    # connecting delivered it already; the explicit event answers with the aggregate and changes nothing
    alice_socket.wait_for("message-status", lambda s: s["messageId"] == message["_id"])
    assert bob_socket.call("message-delivered", {"messageId": message["_id"]}) == {"ok": True, "status": "delivered"}
    assert alice_socket.call("message-delivered", {"messageId": message["_id"]})["code"] == "not_receiver"


def test_member_changes_reach_the_right_devices(live: LiveApi, sockets: Any) -> None:
    alice, bob, carol = live.signup("Alice"), live.signup("Bob"), live.signup("Carol")
    alice_socket, bob_socket, carol_socket = sockets(alice), sockets(bob), sockets(carol)
    chat_id = _group(live, alice, [bob])
    bob_socket.wait_for("new-chat")
    assert live.call("POST", f"/api/chats/{chat_id}/members", alice, json={"userIds": [carol.id]}).status_code == 200
    added = carol_socket.wait_for("new-chat")[0]
    assert added["_id"] == chat_id and added["memberCount"] == 3 and added["myRole"] == "member"
    assert bob_socket.wait_for("chat-updated")[0]["memberCount"] == 3
    carol_socket.wait_for("new-message", lambda m: (m["system"] or {}).get("type") == "member_added")
    assert live.call("DELETE", f"/api/chats/{chat_id}/members/{bob.id}", alice).status_code == 200
    assert bob_socket.wait_for("chat-removed")[0] == {"chatId": chat_id}
    assert carol_socket.wait_for("chat-updated", count=1)[-1]["memberCount"] == 2
    after = live.call("POST", f"/api/chats/{chat_id}/messages", alice, json={"text": "without bob"}).json()
    carol_socket.wait_for("new-message", lambda m: m["_id"] == after["_id"])
    assert not bob_socket.received("new-message", lambda m: m["_id"] == after["_id"])
    assert alice_socket.received("chat-updated")
