"""Message lifecycle against the real server: its events on every device concerned, replies on the
socket send, and the races (real concurrent requests from gevent greenlets), plus forced interleavings
in process that a read-then-write implementation would get wrong."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import gevent
import pytest

from tests.support.api import ApiClient
from tests.support.files import PNG
from tests.support.live import LiveServer
from tests.support.sockets import LiveApi, LiveUser, Socket

ROUNDS = 8


@pytest.fixture
def live(live_server: LiveServer) -> LiveApi:
    return LiveApi(live_server.url)


@pytest.fixture
def sockets(live_server: LiveServer) -> Iterator[Any]:
    opened: list[Socket] = []

    def open_socket(user: LiveUser) -> Socket:
        socket = Socket(live_server.url, user)
        socket.wait_for("online-users")
        opened.append(socket)
        return socket

    yield open_socket
    for socket in opened:
        socket.close()


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _about(message_id: str) -> Any:
    return lambda data: isinstance(data, dict) and message_id in (data.get("_id"), data.get("messageId"))


def _sentinel(live: LiveApi, *sockets: Socket) -> None:
    """A fresh user writes to each socket's user; once it arrives, anything emitted before has too."""
    for socket in sockets:
        assert socket.user is not None
        message = live.send(live.signup("Sentinel"), socket.user, "sentinel")
        socket.wait_for("new-message", lambda m, i=message["_id"]: m["_id"] == i)


def test_lifecycle_events_reach_every_device_concerned(live: LiveApi, sockets: Any) -> None:
    alice, bob = live.signup("Alice"), live.signup("Bob")
    sent = live.send(alice, bob, "helo")
    a1, a2, b1 = sockets(alice), sockets(alice), sockets(bob)
    everyone = (a1, a2, b1)

    edited = _ok(live.call("PATCH", f"/api/messages/{sent['_id']}", alice, json={"text": "hello"}))
    for socket in everyone:
        assert socket.wait_for("message-updated", _about(sent["_id"]))[0] == edited

    reactions = _ok(live.call("PUT", f"/api/messages/{sent['_id']}/reactions", bob, json={"emoji": "👍"}))
    for socket in everyone:
        assert socket.wait_for("message-reactions", _about(sent["_id"]))[0] == reactions

    other = live.send(bob, alice, "to hide")
    _ok(live.call("DELETE", f"/api/messages/{other['_id']}", alice, params={"for": "me"}))
    for socket in (a1, a2):
        event = socket.wait_for("message-deleted", _about(other["_id"]))[0]
        assert event == {"messageId": other["_id"], "chatId": other["chatId"], "forMe": True}
    _sentinel(live, b1)
    assert b1.received("message-deleted") == []

    _ok(live.call("DELETE", f"/api/messages/{sent['_id']}", alice, params={"for": "everyone"}))
    tombstone = next(m for m in _ok(live.call("GET", f"/api/messages/{bob.id}", alice)) if m["_id"] == sent["_id"])
    for socket in everyone:
        event = socket.wait_for("message-deleted", _about(sent["_id"]))[0]
        assert event == {"messageId": sent["_id"], "chatId": sent["chatId"], "deletedAt": tombstone["deletedAt"]}
    # Nothing for an unchanged second delete, nor for an edit that changes nothing.
    _ok(live.call("DELETE", f"/api/messages/{sent['_id']}", alice, params={"for": "everyone"}))
    kept = live.send(alice, bob, "same")
    _ok(live.call("PATCH", f"/api/messages/{kept['_id']}", alice, json={"text": "same"}))
    _sentinel(live, a1, b1)
    assert len(b1.received("message-deleted")) == 1 and b1.received("message-updated", _about(kept["_id"])) == []


def test_the_tombstone_event_crosses_a_block(live: LiveApi, sockets: Any) -> None:
    alice, bob = live.signup("Alice"), live.signup("Bob")
    sent = live.send(alice, bob, "oops")
    b1 = sockets(bob)
    _ok(live.call("POST", f"/api/users/block/{alice.id}", bob))
    _ok(live.call("DELETE", f"/api/messages/{sent['_id']}", alice, params={"for": "everyone"}))
    assert b1.wait_for("message-deleted", _about(sent["_id"]))[0]["deletedAt"]


def test_forwarded_copies_arrive_as_new_messages(live: LiveApi, sockets: Any) -> None:
    alice, bob, carol = live.signup("Alice"), live.signup("Bob"), live.signup("Carol")
    sent = live.send(bob, alice, "pass it on")
    c1 = sockets(carol)
    copies = _ok(live.call("POST", f"/api/messages/{sent['_id']}/forward", alice, json={"to": [carol.id]}), 201)
    chat = c1.wait_for("new-chat")[0]
    assert chat["lastMessage"]["_id"] == copies[0]["_id"] and chat["lastMessage"]["forwarded"] is True
    assert c1.wait_for("new-message", _about(copies[0]["_id"]))[0] == copies[0]


def test_socket_sends_may_reply(live: LiveApi, sockets: Any) -> None:
    alice, bob = live.signup("Alice"), live.signup("Bob")
    quoted = live.send(alice, bob, "question?")
    b1 = sockets(bob)
    ack = b1.call("new-message", {"to": alice.id, "text": "answer", "replyTo": quoted["_id"]})
    assert ack["ok"] is True and ack["message"]["replyTo"]["_id"] == quoted["_id"]
    assert ack["message"]["replyTo"]["text"] == "question?"
    for bad in ("nope", 42, "0123456789abcdef01234567"):
        refused = b1.call("new-message", {"to": alice.id, "text": "x", "replyTo": bad})
        assert refused["ok"] is False and refused["code"] in ("invalid_reply", "validation_error"), refused
    assert b1.call("new-message", {"to": alice.id, "text": "x", "replyTo": "nope"})["code"] == "invalid_reply"


# --- races against the live server ---------------------------------------------------------------------


def _at_once(base_url: str, *requests: tuple[Any, ...]) -> list[Any]:
    """Each (method, path, user, kwargs) from its own greenlet and HTTP session, all at once."""
    greenlets = [
        gevent.spawn(LiveApi(base_url).call, method, path, user, **kwargs) for method, path, user, kwargs in requests
    ]
    gevent.joinall(greenlets, raise_error=True)
    return [g.value for g in greenlets]


def test_two_edits_at_once_end_with_one_of_them(live_server: LiveServer) -> None:
    setup = LiveApi(live_server.url)
    alice, bob = setup.signup("Alice"), setup.signup("Bob")
    for round_ in range(ROUNDS):
        sent = setup.send(alice, bob, f"round {round_}")
        texts = [f"first edit {round_} " * 20, f"second edit {round_} " * 20]
        path = f"/api/messages/{sent['_id']}"
        answers = _at_once(live_server.url, *[("PATCH", path, alice, {"json": {"text": t}}) for t in texts])
        assert [a.status_code for a in answers] == [200, 200]
        stored = next(m for m in _ok(setup.call("GET", f"/api/messages/{alice.id}", bob)) if m["_id"] == sent["_id"])
        assert stored["text"] in [t.strip() for t in texts]


def test_a_reaction_and_a_delete_at_once_leave_a_bare_tombstone(live_server: LiveServer) -> None:
    setup = LiveApi(live_server.url)
    alice, bob = setup.signup("Alice"), setup.signup("Bob")
    for _ in range(ROUNDS):
        sent = setup.send(alice, bob, "react to me")
        react, delete = _at_once(
            live_server.url,
            ("PUT", f"/api/messages/{sent['_id']}/reactions", bob, {"json": {"emoji": "🔥"}}),
            ("DELETE", f"/api/messages/{sent['_id']}", alice, {"params": {"for": "everyone"}}),
        )
        assert delete.status_code == 200
        assert react.status_code in (200, 409), react.text
        stored = next(m for m in _ok(setup.call("GET", f"/api/messages/{alice.id}", bob)) if m["_id"] == sent["_id"])
        assert stored["deletedAt"] and stored["reactions"] == [] and stored["text"] == ""


def test_a_forward_of_a_message_being_deleted_is_whole_or_refused(live_server: LiveServer) -> None:
    setup = LiveApi(live_server.url)
    alice, bob, carol = setup.signup("Alice"), setup.signup("Bob"), setup.signup("Carol")
    outcomes = set()
    for round_ in range(ROUNDS):
        form = {"text": f"photo {round_}"}
        files = {"images": ("pic.png", io.BytesIO(PNG), "image/png")}
        sent = _ok(setup.call("POST", f"/api/messages/send/{bob.id}", alice, data=form, files=files), 201)
        forward, delete = _at_once(
            live_server.url,
            ("POST", f"/api/messages/{sent['_id']}/forward", bob, {"json": {"to": [carol.id]}}),
            ("DELETE", f"/api/messages/{sent['_id']}", alice, {"params": {"for": "everyone"}}),
        )
        assert delete.status_code == 200
        outcomes.add(forward.status_code)
        history = _ok(setup.call("GET", f"/api/messages/{bob.id}", carol))
        copies = [m for m in history if m["text"] == f"photo {round_}"]
        if forward.status_code == 201:
            (copy,) = copies
            assert copy["attachments"] == sent["attachments"]
            image = setup.call("GET", copy["image"], carol)
            assert image.status_code == 200 and image.content == PNG
        else:
            assert forward.status_code == 409 and forward.json()["code"] == "message_deleted"
            assert copies == []
            assert setup.call("GET", sent["image"], alice).status_code == 404
    assert outcomes <= {201, 409}


# --- forced interleavings (in process) -----------------------------------------------------------------


def _delete_during(monkeypatch: Any, app: Any, api: ApiClient, name: str, message_id: str, sender: Any) -> None:
    """Make the rule check `name` of messages.rules delete the message for everyone as it runs: the
    action then stores after a delete it did not see when it read the message."""
    from chatbox.messages import rules

    original = getattr(rules, name)
    fired = []

    def check_then_delete(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if not fired:
            fired.append(True)
            response = api.delete(f"/api/messages/{message_id}", sender, query_string={"for": "everyone"})
            assert response.status_code == 200
        return result

    monkeypatch.setattr(rules, name, check_then_delete)


def test_an_edit_overtaken_by_a_delete_changes_nothing(monkeypatch: Any, app: Any, api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    sent = api.send(alice, bob, "original").get_json()
    _delete_during(monkeypatch, app, api, "ensure_chat_open", sent["_id"], alice)
    response = api.request("PATCH", f"/api/messages/{sent['_id']}", alice, json={"text": "edited"})
    assert response.status_code == 409 and response.get_json()["code"] == "message_deleted"
    stored = api.get(f"/api/messages/{alice.id}", bob).get_json()[0]
    assert stored["deletedAt"] and stored["text"] == "" and stored["editedAt"] is None


def test_a_reaction_overtaken_by_a_delete_is_refused(monkeypatch: Any, app: Any, api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    sent = api.send(alice, bob, "original").get_json()
    _delete_during(monkeypatch, app, api, "ensure_chat_open", sent["_id"], alice)
    response = api.put(f"/api/messages/{sent['_id']}/reactions", bob, json={"emoji": "👍"})
    assert response.status_code == 409 and response.get_json()["code"] == "message_deleted"
    assert api.get(f"/api/messages/{alice.id}", bob).get_json()[0]["reactions"] == []


def test_a_forward_overtaken_by_a_delete_takes_its_copies_back(monkeypatch: Any, app: Any, api: ApiClient) -> None:
    alice, bob, carol = api.signup("Alice"), api.signup("Bob"), api.signup("Carol")
    form = {"text": "photo", "images": (io.BytesIO(PNG), "pic.png")}
    sent = api.post(f"/api/messages/send/{bob.id}", alice, data=form).get_json()
    _delete_during(monkeypatch, app, api, "ensure_not_deleted", sent["_id"], alice)
    response = api.post(f"/api/messages/{sent['_id']}/forward", bob, json={"to": [carol.id]})
    assert response.status_code == 409 and response.get_json()["code"] == "message_deleted"
    assert api.get(f"/api/messages/{bob.id}", carol).get_json() == []
    assert api.get("/api/messages/chats", carol).get_json() == []
    # The file went with the delete: no message carries it any more.
    assert api.get(sent["image"], alice).status_code == 404
