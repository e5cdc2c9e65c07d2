"""The AsyncAPI document at /api/asyncapi.json is true: every event it lists is sent and received against a
live server (the Procfile's gunicorn), and every payload and ack is validated against it.

When an event joins `chatbox/realtime/catalog.py`, add a step that makes it happen to `SCENARIO` below:
`test_every_event_is_exercised` fails until then.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs
import pytest
import requests

from chatbox.realtime.catalog import client_events, server_events
from chatbox.realtime.namespace import CLIENT_EVENTS
from tests.support.live import ROOT, LiveServer
from tests.support.sockets import LiveApi, LiveUser, Socket

UNKNOWN_ID = "0123456789abcdef01234567"


@dataclass
class Contract:
    document: dict[str, Any]
    # event name -> payload schema (server → client) / ack schema (client → server)
    server_payloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    client_payloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    seq_argument: dict[str, dict[str, Any]] = field(default_factory=dict)
    emitted: set[str] = field(default_factory=set)
    received: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        messages = self.document["channels"]["chat"]["messages"]

        def message(ref: dict[str, str]) -> dict[str, Any]:
            return messages[ref["$ref"].rsplit("/", 1)[1]]

        for operation in self.document["operations"].values():
            event = message(operation["messages"][0])
            if operation["action"] == "send":
                self.server_payloads[event["name"]] = event["payload"]
                if "x-second-argument" in event:
                    self.seq_argument[event["name"]] = event["x-second-argument"]
            else:
                self.client_payloads[event["name"]] = event["payload"]
                self.acks[event["name"]] = message(operation["reply"]["messages"][0])["payload"]

    def check(self, schema: dict[str, Any], instance: Any, what: str) -> None:
        root = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            **schema,
            "components": self.document["components"],
        }
        validator = jsonschema_rs.validator_for(root, validate_formats=True)
        errors = [str(e) for e in validator.iter_errors(instance)]
        assert not errors, f"{what} does not match the AsyncAPI document: {errors}\n{instance!r}"

    def emit(self, socket: Socket, event: str, payload: Any) -> dict[str, Any]:
        self.check(self.client_payloads[event], payload, f"the {event} payload we send")
        ack = socket.call(event, payload)
        self.check(self.acks[event], ack, f"the {event} ack")
        self.emitted.add(event)
        return ack

    def received_all(self, *sockets: Socket) -> None:
        for socket in sockets:
            for name, data in socket.events:
                assert name in self.server_payloads, f"{name!r} is sent but not in the AsyncAPI document"
                self.check(self.server_payloads[name], data, f"the {name} event")
                self.received.add(name)
            # Durable events, and only they, come with the documented second argument {seq}.
            for seq, name, _data in socket.durable:
                assert name in self.seq_argument, f"{name!r} came with a seq the document does not mention"
                self.check(self.seq_argument[name], {"seq": seq}, f"the {name} event's second argument")
            with_seq = [name for name, _data in socket.events if name in self.seq_argument]
            assert len(with_seq) == len(socket.durable), "a durable event came without its seq"


@pytest.fixture(scope="module")
def contract(live_server: LiveServer) -> Contract:
    response = requests.get(f"{live_server.url}/api/asyncapi.json", timeout=10)
    assert response.status_code == 200
    return Contract(response.json())


@pytest.fixture
def sockets(live_server: LiveServer) -> Iterator[Callable[..., Socket]]:
    opened: list[Socket] = []

    def open_socket(user: LiveUser, **connect: Any) -> Socket:
        socket = Socket(live_server.url, user, **connect)
        opened.append(socket)
        return socket

    yield open_socket
    for socket in opened:
        socket.close()


def scenario(contract: Contract, live: LiveApi, open_socket: Callable[..., Socket]) -> None:
    """One conversation that makes every event of the contract happen, each payload and ack validated."""
    alice, bob = live.signup("Async Alice"), live.signup("Async Bob")
    a = open_socket(alice)
    a.wait_for("online-users")
    # The first message of a chat: new-chat to both, then new-message to Alice's other sockets and Bob.
    sent = contract.emit(a, "new-message", {"to": bob.id, "text": "hello", "clientMessageId": "async-1"})
    assert sent["ok"] is True and sent["message"]["text"] == "hello"
    a.wait_for("new-chat")
    # Bob comes online: Alice sees him, and what waited for him is delivered.
    b = open_socket(bob)
    b.wait_for("online-users")
    a.wait_for("user-online")
    a.wait_for("message-status")
    second = live.send(alice, bob, "second")
    b.wait_for("new-message", lambda m: m["_id"] == second["_id"])
    ack = contract.emit(b, "message-delivered", {"messageId": second["_id"]})
    assert ack == {"ok": True, "status": "delivered"}
    ack = contract.emit(b, "message-read", {"messageId": second["_id"]})
    assert ack == {"ok": True, "updated": 2}
    a.wait_for("messages-read")
    live.send(alice, bob, "third")
    assert contract.emit(b, "join-chat", {"userId": alice.id}) == {"ok": True, "updated": 1}
    assert contract.emit(b, "leave-chat", {"userId": alice.id}) == {"ok": True}
    assert contract.emit(b, "typing", {"to": alice.id}) == {"ok": True}
    assert contract.emit(b, "stop-typing", {"to": alice.id}) == {"ok": True}
    a.wait_for("typing")
    a.wait_for("stop-typing")
    # The message lifecycle: a reply over the socket, an edit, a reaction, deletes for me and for everyone.
    reply = contract.emit(b, "new-message", {"to": alice.id, "text": "a reply", "replyTo": second["_id"]})
    assert reply["ok"] is True and reply["message"]["replyTo"]["_id"] == second["_id"]
    assert live.call("PATCH", f"/api/messages/{second['_id']}", alice, json={"text": "second, edited"}).ok
    b.wait_for("message-updated", lambda m: m["text"] == "second, edited")
    assert live.call("PUT", f"/api/messages/{second['_id']}/reactions", bob, json={"emoji": "👍"}).ok
    a.wait_for("message-reactions", lambda r: r["messageId"] == second["_id"])
    assert live.call("DELETE", f"/api/messages/{reply['message']['_id']}?for=me", alice).ok
    a.wait_for("message-deleted", lambda d: d.get("forMe") is True)
    assert live.call("DELETE", f"/api/messages/{second['_id']}?for=everyone", alice).ok
    b.wait_for("message-deleted", lambda d: d.get("deletedAt") is not None)
    # The event stream: my own devices follow my blocks, pins and clears; catching up; a reset.
    carol = live.signup("Async Carol")
    for path, event in (
        (f"/api/users/block/{carol.id}", "user-blocked"),
        (f"/api/users/unblock/{carol.id}", "user-unblocked"),
        (f"/api/users/pin/{bob.id}", "chat-pinned"),
        (f"/api/users/unpin/{bob.id}", "chat-unpinned"),
    ):
        assert live.call("POST", path, alice).ok
        a.wait_for(event)
    assert live.call("DELETE", f"/api/messages/chats/{bob.id}", alice).ok
    a.wait_for("chat-cleared")
    caught_up = contract.emit(a, "sync", {"since": 0, "limit": 5})
    assert caught_up["ok"] is True and len(caught_up["events"]) == 5 and caught_up["hasMore"] is True
    late = open_socket(alice, auth={"token": alice.token, "since": 10**12})
    late.wait_for("sync-reset")
    contract.received_all(late)
    # A group: created over REST (new-chat), written to and typed in by chat id, viewed, renamed
    # (chat-updated), and left (chat-removed); pinned by chat id (chat-pinned with userId null).
    group = live.call("POST", "/api/chats", alice, json={"name": "Async group", "memberIds": [bob.id]}).json()
    gid = group["_id"]
    b.wait_for("new-chat", lambda c: c["_id"] == gid)
    said = contract.emit(a, "new-message", {"chatId": gid, "text": "hello group", "clientMessageId": "async-g"})
    assert said["ok"] is True and said["message"]["receiverId"] is None
    b.wait_for("new-message", lambda m: m["_id"] == said["message"]["_id"])
    assert contract.emit(b, "typing", {"chatId": gid}) == {"ok": True}
    assert contract.emit(b, "stop-typing", {"chatId": gid}) == {"ok": True}
    a.wait_for("stop-typing", lambda t: t["chatId"] == gid)
    assert contract.emit(b, "join-chat", {"chatId": gid}) == {"ok": True, "updated": 1}
    a.wait_for("messages-read", lambda r: r["chatId"] == gid)
    a.wait_for("message-status", lambda s: s["messageId"] == said["message"]["_id"] and s["status"] == "read")
    assert contract.emit(b, "leave-chat", {"chatId": gid}) == {"ok": True}
    assert live.call("PATCH", f"/api/chats/{gid}", alice, json={"name": "Async group 2"}).ok
    b.wait_for("chat-updated", lambda c: c["name"] == "Async group 2")
    assert live.call("PUT", f"/api/chats/{gid}/pin", bob).ok
    b.wait_for("chat-pinned", lambda p: p["chatId"] == gid and p["userId"] is None)
    assert live.call("DELETE", f"/api/chats/{gid}/members/{bob.id}", bob).ok
    b.wait_for("chat-removed", lambda r: r["chatId"] == gid)
    refused = contract.emit(b, "typing", {"chatId": gid})
    assert refused["ok"] is False and refused["code"] == "not_a_member"
    # Refusals are acks of the same documented shape.
    refused = contract.emit(b, "new-message", {"to": bob.id, "text": "to myself"})
    assert refused["ok"] is False and refused["code"] == "self_not_allowed"
    refused = contract.emit(b, "message-read", {"messageId": UNKNOWN_ID})
    assert refused["code"] == "message_not_found"
    refused = b.call("no-such-event", {})
    contract.check({"$ref": "#/components/schemas/AckFailure"}, refused, "an unknown event's ack")
    assert refused["code"] == "unknown_event"
    # Bob leaves: Alice is told.
    b.close()
    a.wait_for("user-offline")
    contract.received_all(a, b)


def test_the_document_is_asyncapi_3_with_an_operation_per_event(contract: Contract) -> None:
    document = contract.document
    assert document["asyncapi"] == "3.0.0"
    assert set(contract.client_payloads) == {e.name for e in client_events()} == set(CLIENT_EVENTS)
    assert set(contract.server_payloads) == {e.name for e in server_events()}
    channel = document["channels"]["chat"]
    assert channel["address"] == "/"
    for key, operation in document["operations"].items():
        assert operation["action"] in {"send", "receive"}, key
        for ref in operation["messages"] + operation.get("reply", {}).get("messages", []):
            assert ref["$ref"].startswith("#/channels/chat/messages/")
            assert ref["$ref"].rsplit("/", 1)[1] in channel["messages"], ref

    # Every reference in the document resolves.
    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(document):
        target: Any = document
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        assert target, ref


def test_the_document_is_valid_against_the_official_asyncapi_3_schema(contract: Contract) -> None:
    """The schema from the npm package @asyncapi/specs (a devDependency, like the JavaScript tests')."""
    specs = ROOT / "node_modules" / "@asyncapi" / "specs" / "schemas" / "3.0.0.json"
    assert specs.is_file(), "run `npm install` (make install) first"
    validator = jsonschema_rs.validator_for(json.loads(specs.read_text()))
    assert [str(e)[:300] for e in validator.iter_errors(contract.document)] == []
    broken = json.loads(json.dumps(contract.document))
    next(iter(broken["operations"].values()))["action"] = "emit"
    assert not validator.is_valid(broken)


def test_every_event_is_sent_and_received_as_documented(
    contract: Contract, live_server: LiveServer, sockets: Callable[..., Socket]
) -> None:
    scenario(contract, LiveApi(live_server.url), sockets)
    missing_client = set(contract.client_payloads) - contract.emitted
    missing_server = set(contract.server_payloads) - contract.received
    assert not missing_client and not missing_server, (
        f"add a step to tests/test_asyncapi.py's scenario for: {sorted(missing_client | missing_server)}"
    )


def test_a_payload_that_breaks_the_document_fails_validation(contract: Contract) -> None:
    """The validation above can fail: a wrong field type, a missing field, an extra field."""
    good = {
        "messageId": UNKNOWN_ID,
        "chatId": UNKNOWN_ID,
        "status": "delivered",
        "deliveredAt": "2026-01-01T00:00:00.000Z",
        "readAt": None,
    }
    contract.check(contract.server_payloads["message-status"], good, "a good message-status")
    for bad in ({**good, "status": "lost"}, {k: v for k, v in good.items() if k != "chatId"}, {**good, "x": 1}):
        with pytest.raises(AssertionError):
            contract.check(contract.server_payloads["message-status"], bad, "a bad message-status")
    with pytest.raises(AssertionError):
        contract.check(contract.acks["new-message"], {"ok": True, "message": "a string"}, "a bad ack")
    with pytest.raises(AssertionError):
        contract.check(contract.server_payloads["new-message"], {"_id": UNKNOWN_ID}, "a partial message")


def test_the_server_entry_names_the_host_asked(live_server: LiveServer) -> None:
    document = requests.get(f"{live_server.url}/api/asyncapi.json", timeout=10).json()
    assert document["servers"]["chatbox"]["host"] == live_server.url.removeprefix("http://")
    assert document["servers"]["chatbox"]["protocol"] == "ws"
