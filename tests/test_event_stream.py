"""The per-user event stream through the public API: seq on live events and acks, resume with
`auth.since`, `sync-reset`, GET /api/sync and the socket `sync`, X-Sync-Position, the new durable events,
and what the stream costs a send in database round trips.

Sockets here talk to a complete in-process node (its own Flask app and Socket.IO server on a loopback
port, the embedded database shared with the test), so a test can also look at the stored stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import gevent
import mongomock
import pytest

from tests.support.api import ApiClient
from tests.support.database import empty_database
from tests.support.inprocess import Node, start_node
from tests.support.round_trips import COMMANDS
from tests.support.sockets import LiveApi, LiveUser, Socket, wait_until


@pytest.fixture
def node(tmp_path: Any) -> Iterator[Node]:
    # Background sweeps made rare, so that what a test counts is the request's own work.
    started = start_node(tmp_path / "uploads", {"SESSION_SWEEP_SECONDS": 3600, "EVENT_CHECK_SECONDS": 3600})
    yield started
    started.stop()
    empty_database()


@pytest.fixture
def sockets(node: Node) -> Iterator[Callable[..., Socket]]:
    opened: list[Socket] = []

    def open_socket(user: LiveUser, since: int | None = None, **connect: Any) -> Socket:
        auth: dict[str, Any] = {"token": user.token}
        if since is not None:
            auth["since"] = since
        socket = Socket(node.url, user, auth=auth, **connect)
        opened.append(socket)
        return socket

    yield open_socket
    for socket in opened:
        socket.close()


@pytest.fixture
def count_commands(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[], Any]], list[str]]:
    calls: list[str] = []
    depth = [0]
    for name in COMMANDS:
        original = getattr(mongomock.collection.Collection, name)

        def counting(self: Any, *args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            if depth[0] == 0:  # mongomock carries out some commands with others: count the outer one
                calls.append(f"{self.name}.{_name}")
            depth[0] += 1
            try:
                return _original(self, *args, **kwargs)
            finally:
                depth[0] -= 1

        monkeypatch.setattr(mongomock.collection.Collection, name, counting)

    def measure(action: Callable[[], Any]) -> list[str]:
        start = len(calls)
        action()
        return calls[start:]

    return measure


def _sync(live: LiveApi, user: LiveUser, **params: Any) -> dict[str, Any]:
    response = live.call("GET", "/api/sync", user, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _stored(live: LiveApi, user: LiveUser) -> list[tuple[int, str]]:
    return [(e["seq"], e["event"]) for e in _sync(live, user, limit=500)["events"]]


# --- seq on live events and acks ---------------------------------------------------------------------


def test_live_events_carry_seq_and_the_senders_ack_carries_its_own(node: Node, sockets: Any) -> None:
    live = LiveApi(node.url)
    alice, bob = live.signup("Alice"), live.signup("Bob")
    a, a2, b = sockets(alice), sockets(alice), sockets(bob)

    ack = a.call("new-message", {"to": bob.id, "text": "hello", "clientMessageId": "c-1"})
    assert ack["ok"] is True and ack["seq"] == 2  # seq 1 is Alice's new-chat
    message_id = ack["message"]["_id"]
    wait_until(lambda: len(b.durable) == 2 and len(a2.durable) == 2 and len(a.durable) == 1, "the events")
    assert [(s, e) for s, e, _ in b.durable] == [(1, "new-chat"), (2, "new-message")]
    assert [(s, e) for s, e, _ in a2.durable] == [(1, "new-chat"), (2, "new-message")]
    # The sending socket: its new-chat live, its new-message only in the ack.
    assert [(s, e) for s, e, _ in a.durable] == [(1, "new-chat")]
    assert a.received("new-message") == []
    assert b.durable[1][2]["_id"] == message_id

    # Receipts: Bob's acts produce events for Alice only, so his acks carry no seq.
    delivered = b.call("message-delivered", {"messageId": message_id})
    assert delivered == {"ok": True, "status": "delivered"}
    read = b.call("message-read", {"messageId": message_id})
    assert read == {"ok": True, "updated": 1}
    wait_until(lambda: len(a.durable) == 3 and len(a2.durable) == 4, "the receipts")
    assert [(s, e) for s, e, _ in a2.durable][2:] == [(3, "message-status"), (4, "messages-read")]
    # A retried send stores nothing new: no seq in its ack.
    retry = a.call("new-message", {"to": bob.id, "text": "hello", "clientMessageId": "c-1"})
    assert retry["ok"] is True and "seq" not in retry and retry["message"]["_id"] == message_id
    assert _stored(live, alice) == [(1, "new-chat"), (2, "new-message"), (3, "message-status"), (4, "messages-read")]
    # Ephemeral events carry no seq.
    assert b.call("typing", {"to": alice.id})["ok"] is True
    a.wait_for("typing")
    assert all(e != "typing" for _, e, _ in a.durable)


def test_one_change_stores_each_users_events_once_in_order(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    assert api.send(alice, bob, "one").status_code == 201
    assert api.send(bob, alice, "two").status_code == 201
    events = api.get("/api/sync", alice).get_json()
    assert [(e["seq"], e["event"]) for e in events["events"]] == [
        (1, "new-chat"),
        (2, "new-message"),
        (3, "new-message"),
    ]
    assert events["position"] == 3 and events["hasMore"] is False
    assert [e["data"]["text"] for e in events["events"][1:]] == ["one", "two"]
    assert events["events"][0]["data"]["user"]["_id"] == bob.id  # the chat as Alice sees it
    assert all(e["createdAt"].endswith("Z") for e in events["events"])


# --- resume -----------------------------------------------------------------------------------------


def test_a_socket_resuming_with_since_gets_what_it_missed_in_order_then_live(node: Node, sockets: Any) -> None:
    live = LiveApi(node.url)
    alice, bob = live.signup("Alice"), live.signup("Bob")
    b = sockets(bob)
    first = live.send(alice, bob, "before")
    wait_until(lambda: len(b.durable) == 2, "the first events")
    b.close()
    missed = [live.send(alice, bob, f"away {i}")["_id"] for i in range(5)]

    b = sockets(bob, since=2)
    wait_until(lambda: len(b.durable) == 5, "the replay")
    assert b.seqs() == [3, 4, 5, 6, 7]
    assert [d["_id"] for _, _, d in b.durable] == missed
    after = live.send(alice, bob, "live again")
    wait_until(lambda: len(b.durable) == 6, "the live event")
    assert b.seqs() == [3, 4, 5, 6, 7, 8] and b.durable[-1][2]["_id"] == after["_id"]
    assert first["_id"] not in [d["_id"] for _, _, d in b.durable]


def test_without_since_a_socket_gets_live_events_only(node: Node, sockets: Any) -> None:
    live = LiveApi(node.url)
    alice, bob = live.signup("Alice"), live.signup("Bob")
    live.send(alice, bob, "old")
    b = sockets(bob)
    b.wait_for("online-users")
    fresh = live.send(alice, bob, "new")
    wait_until(lambda: b.durable, "a live event")
    gevent.sleep(0.2)
    assert [(s, d["_id"]) for s, _, d in b.durable] == [(3, fresh["_id"])]


def test_without_since_a_socket_gets_every_event_made_after_it_connected(
    node: Node, sockets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even one numbered before the socket's post-connect work ran (a busy process runs it late): the
    live end is where the socket connected, not where that work found the stream."""
    from chatbox.realtime.namespace import ChatNamespace

    live = LiveApi(node.url)
    alice, bob = live.signup("Alice"), live.signup("Bob")
    live.send(alice, bob, "old")
    made_late: list[dict[str, Any]] = []
    original = ChatNamespace._after_connect

    def late(self: Any, *args: Any, **kwargs: Any) -> None:
        if not made_late:
            made_late.append(live.send(alice, bob, "while the socket's start waited"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(ChatNamespace, "_after_connect", late)
    b = sockets(bob)
    b.wait_for("online-users")
    fresh = live.send(alice, bob, "new")
    wait_until(lambda: len(b.durable) == 2, "both live events")
    gevent.sleep(0.2)
    assert [(s, d["_id"]) for s, _, d in b.durable] == [(3, made_late[0]["_id"]), (4, fresh["_id"])]


def test_events_produced_during_a_replay_come_after_it_without_loss_or_duplicate(node: Node, sockets: Any) -> None:
    live = LiveApi(node.url)
    alice, bob = live.signup("Alice"), live.signup("Bob")
    for i in range(150):  # more than one read of the stored stream
        live.send(alice, bob, f"stored {i}")
    senders = [gevent.spawn(live.send, alice, bob, f"during {i}") for i in range(20)]
    b = sockets(bob, since=0)
    gevent.joinall(senders, raise_error=True)
    wait_until(lambda: len(b.durable) >= 171, "every event")
    gevent.sleep(0.3)
    assert b.seqs() == list(range(1, 172))


def test_since_ahead_of_the_position_or_malformed_resets_the_socket(node: Node, sockets: Any) -> None:
    live = LiveApi(node.url)
    alice, bob = live.signup("Alice"), live.signup("Bob")
    live.send(alice, bob, "one")
    for since in (99, -1, "3", 1.5):
        position = _sync(live, bob)["position"]
        b = sockets(bob, since=since)
        assert b.wait_for("sync-reset") == [{"position": position}]
        fresh = live.send(alice, bob, f"after {since!r}")
        (seq, _event, data) = wait_until(lambda b=b: b.durable, "the next live event")[0]
        assert data["_id"] == fresh["_id"]
        b.close()
        assert seq == _sync(live, bob)["position"]


def _age_stream(user: LiveUser, days: int, keep_from_seq: int) -> None:
    """What the TTL index does after `days`: the stream started that long ago and its older events are gone."""
    from bson import ObjectId

    from chatbox.models import EventCounter, StoredEvent
    from chatbox.models.ids import utcnow

    EventCounter.objects(id=ObjectId(user.id)).update_one(set__started_at=utcnow() - timedelta(days=days))
    StoredEvent.objects(user_id=ObjectId(user.id), seq__lt=keep_from_seq).delete()


def test_since_older_than_what_is_kept_resets(node: Node, sockets: Any) -> None:
    live = LiveApi(node.url)
    alice, bob = live.signup("Alice"), live.signup("Bob")
    for i in range(4):
        live.send(alice, bob, f"m{i}")  # Bob: 1 new-chat, 2..5 new-message
    _age_stream(bob, days=31, keep_from_seq=4)
    assert _sync(live, bob, since=1) == {"reset": True, "position": 5}
    b = sockets(bob, since=1)
    assert b.wait_for("sync-reset") == [{"position": 5}]
    # From a position that is still covered: the kept events.
    assert [e["seq"] for e in _sync(live, bob, since=3)["events"]] == [4, 5]
    again = sockets(bob, since=3)
    wait_until(lambda: len(again.durable) == 2, "the kept events")
    assert again.seqs() == [4, 5] and again.received("sync-reset") == []


def test_a_young_stream_missing_a_seq_is_not_reset(node: Node, sockets: Any) -> None:
    live = LiveApi(node.url)
    alice, bob = live.signup("Alice"), live.signup("Bob")
    for i in range(3):
        live.send(alice, bob, f"m{i}")
    from bson import ObjectId

    from chatbox.models import StoredEvent

    # A seq whose write failed leaves a hole, not an expiry: the answer skips it.
    StoredEvent.objects(user_id=ObjectId(bob.id), seq=2).delete()
    assert [e["seq"] for e in _sync(live, bob, since=1)["events"]] == [3, 4]


def test_the_embedded_database_sweeps_expired_events_in_place_of_a_ttl_index(tmp_path: Any) -> None:
    """The embedded database would check a TTL index on every event at every access of the collection
    (each send's insert included): it has a plain index, and a periodic sweep does what the TTL index
    does on MongoDB."""
    from bson import ObjectId

    from chatbox.models import StoredEvent
    from chatbox.models.ids import utcnow

    node = start_node(tmp_path / "uploads", {"EVENT_SWEEP_SECONDS": 0.05, "EVENT_RETENTION_DAYS": 30})
    try:
        indexes = StoredEvent._get_collection().index_information()
        assert [spec["key"] for spec in indexes.values() if spec["key"][0][0] == "createdAt"] == [[("createdAt", 1)]]
        assert not any("expireAfterSeconds" in spec for spec in indexes.values())
        live = LiveApi(node.url)
        alice, bob = live.signup("Alice"), live.signup("Bob")
        for i in range(3):
            live.send(alice, bob, f"m{i}")  # Bob: 1 new-chat, 2..4 new-message
        old = utcnow() - timedelta(days=31)
        StoredEvent.objects(user_id=ObjectId(bob.id), seq__lt=3).update(set__created_at=old)
        wait_until(lambda: [s for s, _ in _stored(live, bob)] == [3, 4], "the sweep")
        StoredEvent.objects(user_id=ObjectId(bob.id), seq=3).update(set__created_at=utcnow() - timedelta(days=29))
        gevent.sleep(0.2)
        assert [s for s, _ in _stored(live, bob)] == [3, 4]  # younger than the retention: kept
        assert [s for s, _ in _stored(live, alice)] == [1, 2, 3, 4]
    finally:
        node.stop()
        from mongoengine.connection import get_db

        db = get_db()
        for name in db.list_collection_names():
            db.drop_collection(name)


def test_mongodb_gets_a_ttl_index_of_the_retention_period(app: Any) -> None:
    from chatbox.models import StoredEvent
    from chatbox.models import event as stream

    collection = StoredEvent._get_collection()
    collection.drop_indexes()
    stream.ensure_event_indexes(7, expire=True)
    ttl = collection.index_information()[stream.TTL_INDEX_NAME]
    assert ttl["key"] == [("createdAt", 1)] and ttl["expireAfterSeconds"] == 7 * 86400


# --- GET /api/sync and the socket sync ------------------------------------------------------------------


def test_sync_pages_and_validates(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    empty = api.get("/api/sync", bob).get_json()
    assert empty == {"events": [], "position": 0, "hasMore": False}
    for i in range(5):
        api.send(alice, bob, f"m{i}")
    page = api.get("/api/sync?since=0&limit=2", bob).get_json()
    assert [e["seq"] for e in page["events"]] == [1, 2] and page["hasMore"] is True and page["position"] == 6
    rest = api.get("/api/sync?since=2&limit=500", bob).get_json()
    assert [e["seq"] for e in rest["events"]] == [3, 4, 5, 6] and rest["hasMore"] is False
    assert api.get("/api/sync?since=6", bob).get_json() == {"events": [], "position": 6, "hasMore": False}
    default = api.get("/api/sync", bob).get_json()
    assert len(default["events"]) == 6
    for query in ("since=-1", "since=abc", "since=1.5", "limit=0", "limit=501", "limit=x", "since=" + "9" * 30):
        response = api.get(f"/api/sync?{query}", bob)
        assert response.status_code == 400 and response.get_json()["code"] == "validation_error", query
    ahead = api.get("/api/sync?since=7", bob)
    assert ahead.status_code == 400 and ahead.get_json()["code"] == "invalid_since"
    assert api.get("/api/sync").status_code == 401


def test_query_numbers_are_decimal_digits_only(api: ApiClient) -> None:
    """Python's int() takes a sign, spaces and underscores; a query string's number is digits only."""
    bob = api.signup("Bob")
    for query in ("since=%2B1", "since=+1", "since=1_0", "since=%EF%BC%91", "limit=%2B5", "limit=5%20"):
        response = api.get(f"/api/sync?{query}", bob)
        assert response.status_code == 400 and response.get_json()["code"] == "validation_error", query
    assert api.get("/api/messages/chats?limit=%2B5", bob).status_code == 400
    assert api.get("/api/sync?since=0&limit=5", bob).status_code == 200
    assert api.get("/api/messages/chats?limit=5", bob).status_code == 200


def test_sync_over_the_socket_answers_the_same(node: Node, sockets: Any) -> None:
    live = LiveApi(node.url)
    alice, bob = live.signup("Alice"), live.signup("Bob")
    for i in range(3):
        live.send(alice, bob, f"m{i}")
    b = sockets(bob)
    answer = b.call("sync", {"since": 1, "limit": 2})
    rest = _sync(live, bob, since=1, limit=2)
    assert answer == {"ok": True, **rest}
    assert [e["seq"] for e in answer["events"]] == [2, 3] and answer["hasMore"] is True
    assert b.call("sync", {})["events"][0]["seq"] == 1
    assert b.call("sync", {"since": 9}) == {
        "ok": False,
        "message": "since (9) is ahead of your position in the event stream (4).",
        "code": "invalid_since",
    }
    for bad in ({"since": -1}, {"since": "1"}, {"limit": 0}, {"limit": 501}, {"since": True}):
        refused = b.call("sync", bad)
        assert refused["ok"] is False and refused["code"] == "validation_error", bad


def test_lists_carry_the_position_read_before_them(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    assert api.get("/api/auth/check", bob).headers["X-Sync-Position"] == "0"
    api.send(alice, bob, "hi")
    for path in ("/api/messages/chats", f"/api/messages/{alice.id}", "/api/auth/check"):
        response = api.get(path, bob)
        assert response.status_code == 200 and response.headers["X-Sync-Position"] == "2", path
    preflight = api.client.get("/api/auth/check", headers={**bob.headers, "Origin": "http://localhost:5173"})
    assert "X-Sync-Position" in preflight.headers["Access-Control-Expose-Headers"]


def test_the_position_is_read_before_the_list(app: Any, api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """An event stored while the list is being read is at most seen twice (list and replay), never missed."""
    from chatbox.messages import queries as messages

    alice, bob = api.signup("Alice"), api.signup("Bob")
    api.send(alice, bob, "first")
    original = messages.chat_list
    during: list[Any] = []

    def list_while_a_message_arrives(*args: Any, **kwargs: Any) -> Any:
        if not during:
            during.append(api.send(alice, bob, "during the list").get_json())
        return original(*args, **kwargs)

    monkeypatch.setattr(messages, "chat_list", list_while_a_message_arrives)
    response = api.get("/api/messages/chats", bob)
    assert response.headers["X-Sync-Position"] == "2"
    replay = api.get("/api/sync?since=2", bob).get_json()["events"]
    assert [e["data"]["_id"] for e in replay] == [during[0]["_id"]]


# --- the new durable events ---------------------------------------------------------------------------


def test_block_pin_and_clear_reach_my_devices_as_durable_events(node: Node, sockets: Any) -> None:
    live = LiveApi(node.url)
    alice, bob, carol = live.signup("Alice"), live.signup("Bob"), live.signup("Carol")
    first = live.send(bob, alice, "hi")
    a = sockets(alice)
    b = sockets(bob)
    a.wait_for("online-users")
    chat_id = first["chatId"]
    for method, path in (
        ("POST", f"/api/users/block/{carol.id}"),
        ("POST", f"/api/users/block/{carol.id}"),  # idempotent: nothing new
        ("POST", f"/api/users/unblock/{carol.id}"),
        ("POST", f"/api/users/pin/{bob.id}"),
        ("POST", f"/api/users/pin/{carol.id}"),  # no chat with Carol yet
        ("POST", f"/api/users/unpin/{bob.id}"),
        ("POST", f"/api/users/unpin/{bob.id}"),
        ("DELETE", f"/api/messages/chats/{bob.id}"),
    ):
        assert live.call(method, path, alice).status_code == 200, path
    wait_until(lambda: len(a.durable) == 6, "Alice's events")
    assert [(e, d) for _, e, d in a.durable] == [
        ("user-blocked", {"userId": carol.id}),
        ("user-unblocked", {"userId": carol.id}),
        ("chat-pinned", {"chatId": chat_id, "userId": bob.id}),
        ("chat-pinned", {"chatId": None, "userId": carol.id}),
        ("chat-unpinned", {"chatId": chat_id, "userId": bob.id}),
        ("chat-cleared", {"chatId": chat_id}),
    ]
    assert a.seqs() == [3, 4, 5, 6, 7, 8]
    gevent.sleep(0.2)
    assert b.durable == []  # all of it was Alice's own business


# --- cost ----------------------------------------------------------------------------------------------


def test_a_send_costs_at_most_one_more_round_trip_per_user_it_concerns(
    node: Node, sockets: Any, count_commands: Any
) -> None:
    live = LiveApi(node.url)
    alice, bob = live.signup("Alice"), live.signup("Bob")
    a = sockets(alice)
    sockets(bob).wait_for("online-users")  # online: no push lookup
    assert a.call("new-message", {"to": bob.id, "text": "first"})["ok"] is True
    # Part 1: five round trips for a socket send into an existing chat (user check, receiver, chat,
    # insert, chat summary). The stream may add one per user concerned: here two (Alice and Bob).
    commands = count_commands(lambda: a.call("new-message", {"to": bob.id, "text": "second"}))
    assert len(commands) <= 7, "\n".join(commands)
    assert commands.count("event_counters.find_one_and_update") == 2
    assert commands.count("events.insert_many") == 1


def test_lifecycle_events_are_durable_for_every_participant(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    message = api.send(alice, bob, "typo").get_json()
    assert api.request("PATCH", f"/api/messages/{message['_id']}", alice, json={"text": "fixed"}).status_code == 200
    assert api.put(f"/api/messages/{message['_id']}/reactions", bob, json={"emoji": "👍"}).status_code == 200
    assert api.delete(f"/api/messages/{message['_id']}", alice, query_string={"for": "everyone"}).status_code == 200
    for user in (alice, bob):
        events = api.get("/api/sync?since=2", user).get_json()["events"]
        assert [(e["seq"], e["event"]) for e in events] == [
            (3, "message-updated"),
            (4, "message-reactions"),
            (5, "message-deleted"),
        ]
        assert events[0]["data"]["text"] == "fixed" and events[2]["data"]["messageId"] == message["_id"]
