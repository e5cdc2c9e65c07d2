"""The chat list and a history page cost a bounded number of database queries, whatever the data size."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import mongomock
import pytest

from tests.support.api import PASSWORD, ApiClient, User
from tests.support.database import empty_database
from tests.support.files import PNG
from tests.support.round_trips import recording
from tests.support.served import served_app
from tests.support.sockets import LiveApi, Socket


@pytest.fixture
def count_queries(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[[], Any]], int]]:
    calls = {"n": 0}
    for name in ("find", "find_one", "count_documents", "aggregate"):
        original = getattr(mongomock.collection.Collection, name)

        def counting(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            calls["n"] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(mongomock.collection.Collection, name, counting)

    def measure(action: Callable[[], Any]) -> int:
        before = calls["n"]
        action()
        return calls["n"] - before

    yield measure


def _with_chats(api: ApiClient, me: User, count: int) -> None:
    for i in range(count):
        friend = api.signup(f"Friend {i}")
        api.send(friend, me, "hello")
        if i % 3 == 0:
            api.post(f"/api/users/pin/{friend.id}", me)


def test_chat_list_queries_do_not_grow_with_the_number_of_chats(api: ApiClient, count_queries: Any) -> None:
    few, many = api.signup("Few"), api.signup("Many")
    _with_chats(api, few, 3)
    _with_chats(api, many, 30)
    small = count_queries(lambda: api.get("/api/messages/chats", few))
    large = count_queries(lambda: api.get("/api/messages/chats", many))
    assert len(api.get("/api/messages/chats", many).get_json()) == 30
    assert large == small


def test_history_page_queries_do_not_grow_with_the_number_of_messages(api: ApiClient, count_queries: Any) -> None:
    a, b, c = api.signup("A"), api.signup("B"), api.signup("C")
    for i in range(5):
        api.send(a, b, f"m{i}")
    for i in range(120):
        api.send(a, c, f"m{i}")
    small = count_queries(lambda: api.get(f"/api/messages/{a.id}", b))
    large = count_queries(lambda: api.get(f"/api/messages/{a.id}", c))
    assert len(api.get(f"/api/messages/{a.id}", c).get_json()) == 50
    assert large == small


def _with_hidden_previews(api: ApiClient, me: User, count: int) -> None:
    """`count` chats whose newest message I deleted for me (my preview falls back to an older one)."""
    for i in range(count):
        friend = api.signup(f"Friend {i}")
        api.send(friend, me, "older")
        newest = api.send(friend, me, "newest").get_json()
        assert api.delete(f"/api/messages/{newest['_id']}", me, query_string={"for": "me"}).status_code == 200


def test_chat_list_queries_do_not_grow_with_messages_deleted_for_me(api: ApiClient, count_queries: Any) -> None:
    few, many = api.signup("Few"), api.signup("Many")
    _with_hidden_previews(api, few, 2)
    _with_hidden_previews(api, many, 20)
    small = count_queries(lambda: api.get("/api/messages/chats", few))
    large = count_queries(lambda: api.get("/api/messages/chats", many))
    chats = api.get("/api/messages/chats", many).get_json()
    assert len(chats) == 20 and {c["lastMessage"]["text"] for c in chats} == {"older"}
    assert large == small


# --- every query on an index -------------------------------------------------------------------------

FILTERING = ("find", "find_one", "count_documents", "distinct", "update_one", "update_many", "find_one_and_update")
FILTERING += ("delete_many", "delete_one", "aggregate", "bulk_write")


@pytest.fixture
def record_filters(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    seen: list[tuple[Any, dict[str, Any]]] = []
    depth = {"n": 0}  # mongomock's aggregate runs a find() of its own: record only our calls
    for name in FILTERING:
        original = getattr(mongomock.collection.Collection, name)

        def recording(self: Any, *args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            if _name == "bulk_write":  # each update or delete of the batch is a query of its own
                requests = args[0] if args else kwargs.get("requests", [])
                if depth["n"] == 0:
                    seen.extend((self, getattr(r, "_filter", None) or {}) for r in requests if hasattr(r, "_filter"))
                condition = {"_id": "(recorded per request)"}
            elif _name == "aggregate":
                pipeline = args[0] if args else kwargs.get("pipeline", [])
                condition = pipeline[0].get("$match", {}) if pipeline else {}
            elif _name == "distinct":
                condition = args[1] if len(args) > 1 else kwargs.get("filter") or {}
            else:
                condition = args[0] if args else kwargs.get("filter") or {}
            if depth["n"] == 0:
                seen.append((self, condition or {}))
            depth["n"] += 1
            try:
                return _original(self, *args, **kwargs)
            finally:
                depth["n"] -= 1

        monkeypatch.setattr(mongomock.collection.Collection, name, recording)
    return seen


def _indexed(condition: dict[str, Any], leading: set[str]) -> bool:
    """Does the condition start on an index? A field of it leads one, or one part of an `$and` does, or
    every branch of an `$or` does (MongoDB answers each branch from its own index)."""
    for key, value in condition.items():
        if key == "$and" and any(_indexed(part, leading) for part in value):
            return True
        if key == "$or" and value and all(_indexed(part, leading) for part in value):
            return True
        if not key.startswith("$") and key in leading:
            return True
    return False


def _unindexed(record_filters: list[tuple[Any, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    unindexed = []
    for collection, condition in record_filters:
        leading = {"_id"} | {
            next(iter(spec["key"]))[0] for spec in collection.index_information().values() if spec.get("key")
        }
        if not _indexed(condition, leading):
            unindexed.append((collection.name, condition))
    return unindexed


def test_lifecycle_queries_are_answered_from_an_index(api: ApiClient, record_filters: Any) -> None:
    alice, bob, carol = api.signup("Alice"), api.signup("Bob"), api.signup("Carol")
    first = api.send(alice, bob, "first").get_json()
    photo = api.post(
        f"/api/messages/send/{bob.id}",
        alice,
        data={"text": "photo", "images": (io.BytesIO(PNG), "a.png"), "replyTo": first["_id"]},
    ).get_json()
    record_filters.clear()
    reply = api.send(bob, alice, "reply", replyTo=photo["_id"]).get_json()
    assert api.request("PATCH", f"/api/messages/{photo['_id']}", alice, json={"text": "caption"}).status_code == 200
    assert api.put(f"/api/messages/{photo['_id']}/reactions", bob, json={"emoji": "👍"}).status_code == 200
    assert api.delete(f"/api/messages/{photo['_id']}/reactions", bob).status_code == 200
    copy = api.post(f"/api/messages/{photo['_id']}/forward", bob, json={"to": [carol.id], "chatIds": []})
    assert copy.status_code == 201
    assert api.get(photo["image"], carol).status_code == 200
    assert api.delete(f"/api/messages/{reply['_id']}", alice, query_string={"for": "me"}).status_code == 200
    assert api.delete(f"/api/messages/{photo['_id']}", alice, query_string={"for": "everyone"}).status_code == 200
    assert api.get(f"/api/messages/{bob.id}", alice).status_code == 200
    assert api.get(f"/api/messages/search/{bob.id}", alice, query_string={"q": "rep"}).status_code == 200
    assert api.get("/api/messages/chats", alice).status_code == 200
    assert api.delete(f"/api/messages/chats/{alice.id}", bob).status_code == 200
    assert api.delete(f"/api/messages/chats/{bob.id}", alice).get_json()["deleted"] is True
    assert record_filters
    assert not _unindexed(record_filters)


# --- groups: reading the list, sending and marking read cost the same for 3 members or 60 -------------------


STREAM_COLLECTIONS = {"event_counters", "events"}  # the event stream: numbering and storing


@pytest.fixture
def count_round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[[], Any]], Counter[str]]]:
    """Every call that would be a round trip to MongoDB (reads and writes), per collection (see
    tests/support/round_trips.py: a find counts when its cursor is read)."""
    with recording(monkeypatch) as calls:

        def measure(action: Callable[[], Any]) -> Counter[str]:
            start = len(calls)
            action()
            return Counter(collection for collection, _command, _filter in calls[start:])

        yield measure


def _split(counts: Counter[str]) -> tuple[int, int]:
    """(round trips of the chat data, round trips of the event stream)."""
    stream = sum(n for name, n in counts.items() if name in STREAM_COLLECTIONS)
    return sum(counts.values()) - stream, stream


def _group_of(api: ApiClient, size: int, backlog: int) -> tuple[User, User, str]:
    owner = api.signup("Owner")
    reader = api.signup("Reader")
    others = [api.signup(f"Member {i}") for i in range(size - 2)]
    body = {"name": f"Group of {size}", "memberIds": [reader.id, *[o.id for o in others]]}
    chat_id = api.post("/api/chats", owner, json=body).get_json()["_id"]
    for i in range(backlog):
        api.post(f"/api/chats/{chat_id}/messages", others[i % len(others)] if others else owner, json={"text": f"{i}"})
    return owner, reader, chat_id


def test_group_list_send_and_read_cost_does_not_grow_with_members_or_messages(
    app: Any, api: ApiClient, count_round_trips: Any
) -> None:
    app.config["MAX_GROUP_MEMBERS"] = 100
    costs, streams = [], []
    sizes = (3, 60)
    for size, backlog in zip(sizes, (2, 40), strict=True):
        owner, reader, chat_id = _group_of(api, size, backlog)
        last = api.get(f"/api/chats/{chat_id}/messages?limit=1", reader).get_json()[-1]["_id"]
        listing = count_round_trips(lambda r=reader: api.get("/api/messages/chats", r))
        sending = count_round_trips(
            lambda o=owner, c=chat_id: api.post(f"/api/chats/{c}/messages", o, json={"text": "hello"})
        )
        reading = count_round_trips(
            lambda r=reader, c=chat_id, m=last: api.put(f"/api/chats/{c}/read", r, json={"upTo": m})
        )
        item = count_round_trips(lambda r=reader, c=chat_id: api.get(f"/api/chats/{c}", r))
        split = [_split(c) for c in (listing, sending, reading, item)]
        costs.append(tuple(data for data, _ in split))
        streams.append(tuple(stream for _, stream in split))
    assert api.get("/api/messages/chats", reader).get_json()[0]["unreadCount"] == 1
    small, large = costs
    assert large == small, f"round trips (list, send, read, item): 3 members {small}, 60 members {large}"
    # The event stream numbers the events of one change with one round trip per user for up to two users
    # and two for more (a send concerns every member; a read, the senders of what was read), then
    # stores them with one: at most three, however many members.
    assert all(n <= 3 for cost in streams for n in cost), f"event stream round trips: {streams}"
    assert streams[0][1] == streams[1][1] == 3, f"a group send's event stream round trips: {streams}"


def test_group_queries_are_answered_from_an_index(api: ApiClient, record_filters: Any) -> None:
    """Every group operation, with the direct chat list beside it: each query starts on an index."""
    alice, bob, carol, dave = (api.signup(n) for n in ("Alice", "Bob", "Carol", "Dave"))
    api.send(alice, bob, "direct")
    record_filters.clear()
    gid = api.post("/api/chats", alice, json={"name": "Crew", "memberIds": [bob.id, carol.id]}).get_json()["_id"]
    first = api.post(f"/api/chats/{gid}/messages", alice, json={"text": "hello crew"}).get_json()
    api.post(f"/api/chats/{gid}/messages", bob, json={"text": "hi", "replyTo": first["_id"]})
    assert api.put(f"/api/chats/{gid}/read", carol, json={"upTo": first["_id"]}).status_code == 200
    assert api.put(f"/api/messages/read/{first['_id']}", bob).status_code == 200
    assert api.get(f"/api/chats/{gid}/messages/{first['_id']}/receipts", alice).status_code == 200
    assert api.patch(f"/api/chats/{gid}", alice, json={"name": "Crew 2"}).status_code == 200
    assert api.post(f"/api/chats/{gid}/members", alice, json={"userIds": [dave.id]}).status_code == 200
    assert api.put(f"/api/chats/{gid}/members/{bob.id}/role", alice, json={"role": "admin"}).status_code == 200
    assert api.get(f"/api/chats/{gid}/search", carol, query_string={"q": "crew"}).status_code == 200
    assert api.put(f"/api/chats/{gid}/pin", carol).status_code == 200
    assert api.put(f"/api/chats/{gid}/mute", carol, json={"until": None}).status_code == 200
    assert api.get("/api/messages/chats", carol, query_string={"q": "crew"}).status_code == 200
    assert api.get("/api/messages/chats", alice).status_code == 200
    assert api.delete(f"/api/chats/{gid}/members/{carol.id}", bob).status_code == 200
    assert api.get(f"/api/chats/{gid}/messages", carol).status_code == 200
    assert api.delete(f"/api/chats/{gid}/messages", carol).status_code == 200
    for user in (dave, bob, alice):
        assert api.delete(f"/api/chats/{gid}/members/{user.id}", user).status_code == 200
    assert record_filters
    assert not _unindexed(record_filters)


# --- each hot operation at its floor: the exact round trips, by collection --------------------------------


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[[], Any]], list[tuple[str, str, Any]]]]:
    """The round trips an action makes, in order: (collection, command, filter)."""
    with recording(monkeypatch) as calls:

        def measure(action: Callable[[], Any]) -> list[tuple[str, str, Any]]:
            start = len(calls)
            action()
            return list(calls[start:])

        yield measure


def _data(calls: list[tuple[str, str, Any]]) -> Counter[str]:
    """Round trips by collection, but the event stream's."""
    return Counter(collection for collection, _command, _filter in calls if collection not in STREAM_COLLECTIONS)


def _stream(calls: list[tuple[str, str, Any]]) -> int:
    return sum(1 for collection, _command, _filter in calls if collection in STREAM_COLLECTIONS)


def _listed(calls: list[tuple[str, str, Any]]) -> str:
    return "\n".join(f"{collection}.{command} {condition}" for collection, command, condition in calls)


# The stream numbers each concerned user's events (one round trip per user for one or two users, two
# for more: chatbox/models/event.py) and stores them (one).
def _stream_ok(calls: list[tuple[str, str, Any]], concerned: int) -> bool:
    return _stream(calls) <= (concerned if concerned < 3 else 2) + 1


def test_a_rest_request_reads_its_user_and_asks_the_revocation_list_only_after_a_change(
    api: ApiClient, trips: Any
) -> None:
    alice = api.signup("Alice")
    calls = trips(lambda: api.get("/api/auth/check", alice))
    assert _data(calls) == Counter({"users": 1}), _listed(calls)
    # A logout elsewhere changes Alice's sessions: her older tokens are looked up on the list again.
    other_device = api.post("/api/auth/login", json={"email": alice.email, "password": PASSWORD}).get_json()["token"]
    assert api.post("/api/auth/logout", headers={"Authorization": f"Bearer {other_device}"}).status_code == 200
    calls = trips(lambda: api.get("/api/auth/check", alice))
    assert _data(calls) == Counter({"users": 1, "revoked_tokens": 1}), _listed(calls)
    assert api.get("/api/auth/check", headers={"Authorization": f"Bearer {other_device}"}).status_code == 401


def test_a_direct_send_into_an_existing_chat_is_at_its_floor(api: ApiClient, trips: Any) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    api.send(alice, bob, "first")
    calls = trips(lambda: api.send(alice, bob, "second"))
    # me, the receiver (active, blocks); the insert; the chat's summary ($max, returning the chat as before)
    assert _data(calls) == Counter({"users": 2, "messages": 1, "chats": 1}), _listed(calls)
    assert _stream_ok(calls, concerned=2), _listed(calls)


def test_a_group_send_is_at_its_floor(api: ApiClient, trips: Any) -> None:
    alice, bob, carol = api.signup("Alice"), api.signup("Bob"), api.signup("Carol")
    gid = api.post("/api/chats", alice, json={"name": "G", "memberIds": [bob.id, carol.id]}).get_json()["_id"]
    calls = trips(lambda: api.post(f"/api/chats/{gid}/messages", alice, json={"text": "hello"}))
    # me; the group (membership); the insert; the group's summary
    assert _data(calls) == Counter({"users": 1, "chats": 2, "messages": 1}), _listed(calls)
    assert _stream_ok(calls, concerned=3), _listed(calls)


def test_a_direct_read_receipt_is_at_its_floor(api: ApiClient, trips: Any) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    api.send(alice, bob, "one")
    last = api.send(alice, bob, "two").get_json()
    calls = trips(lambda: api.put(f"/api/messages/read/{last['_id']}", bob))
    assert api.get(f"/api/messages/{alice.id}", bob).get_json()[0]["status"] == "read"
    # me; the message named (once); its chat (clear mark); the sender's blocks; the unread ids; one
    # bulk update (delivered where not yet, and read)
    assert _data(calls) == Counter({"users": 2, "messages": 3, "chats": 1}), _listed(calls)
    assert [c for c in calls if c[0] == "messages"][-1][1] == "bulk_write"
    assert _stream_ok(calls, concerned=1), _listed(calls)


def test_a_group_read_receipt_is_at_its_floor(api: ApiClient, trips: Any) -> None:
    alice, bob, carol = api.signup("Alice"), api.signup("Bob"), api.signup("Carol")
    gid = api.post("/api/chats", alice, json={"name": "G", "memberIds": [bob.id, carol.id]}).get_json()["_id"]
    api.post(f"/api/chats/{gid}/messages", alice, json={"text": "one"})
    last = api.post(f"/api/chats/{gid}/messages", alice, json={"text": "two"}).get_json()
    assert api.put(f"/api/chats/{gid}/read", carol, json={"upTo": last["_id"]}).status_code == 200
    by_message = trips(lambda: api.put(f"/api/messages/read/{last['_id']}", bob))
    # me; the message named; its group; the watermark ($max); the receipt mark; the messages passed; one
    # bulk update of their aggregate status (now read by all)
    assert _data(by_message) == Counter({"users": 1, "messages": 3, "chats": 2, "receipt_marks": 1}), _listed(
        by_message
    )
    assert api.get(f"/api/chats/{gid}/messages", alice).get_json()[-1]["status"] == "read"
    assert _stream_ok(by_message, concerned=1), _listed(by_message)


def test_a_chat_list_page_is_at_its_floor(api: ApiClient, trips: Any) -> None:
    alice, bob, carol = api.signup("Alice"), api.signup("Bob"), api.signup("Carol")
    api.send(bob, alice, "direct")
    gid = api.post("/api/chats", alice, json={"name": "G", "memberIds": [bob.id, carol.id]}).get_json()["_id"]
    api.post(f"/api/chats/{gid}/messages", carol, json={"text": "group"})
    calls = trips(lambda: api.get("/api/messages/chats", alice))
    assert [c["unreadCount"] for c in api.get("/api/messages/chats", alice).get_json()] == [1, 1]
    # me; the chats; the other users of the direct ones; one read of every preview and one aggregation
    # of every unread count, both kinds together
    assert _data(calls) == Counter({"users": 2, "chats": 1, "messages": 2}), _listed(calls)
    assert _stream(calls) <= 1, _listed(calls)  # the sync position read before the list


def test_a_sync_page_is_at_its_floor(api: ApiClient, trips: Any) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    api.send(bob, alice, "hello")
    calls = trips(lambda: api.get("/api/sync", alice))
    assert _data(calls) == Counter({"users": 1}), _listed(calls)
    assert _stream(calls) <= 2, _listed(calls)  # the position, one page of events


def test_a_socket_send_into_an_existing_chat_is_at_its_floor(tmp_path: Any, trips: Any) -> None:
    with served_app(tmp_path, {"SESSION_SWEEP_SECONDS": 3600, "EVENT_CHECK_SECONDS": 3600}) as (_app, url):
        live = LiveApi(url)
        alice, bob = live.signup("Alice"), live.signup("Bob")
        a, b = Socket(url, alice), Socket(url, bob)
        try:
            b.wait_for("online-users")  # online: no device lookup for a push
            assert a.call("new-message", {"to": bob.id, "text": "first"})["ok"] is True
            calls = trips(lambda: a.call("new-message", {"to": bob.id, "text": "second"}))
        finally:
            a.close()
            b.close()
            empty_database()  # what a served app stored goes with it, as the `app` fixture's
    # the insert; the chat's summary. No user: the sender is the socket's own, cached, and so is the
    # receiver, whose socket is on this process (a receiver elsewhere is read once, as over REST)
    assert _data(calls) == Counter({"messages": 1, "chats": 1}), _listed(calls)
    assert _stream_ok(calls, concerned=2), _listed(calls)


def test_hot_path_queries_are_answered_from_an_index(api: ApiClient, record_filters: Any) -> None:
    """The operations above (sends, receipts both ways, the chat list of both kinds, a sync page, a
    request after a logout elsewhere): each query, and each update of a bulk write, starts on an index."""
    alice, bob, carol = api.signup("Alice"), api.signup("Bob"), api.signup("Carol")
    record_filters.clear()
    api.send(alice, bob, "first")
    last = api.send(alice, bob, "second").get_json()
    assert api.put(f"/api/messages/read/{last['_id']}", bob).status_code == 200
    gid = api.post("/api/chats", alice, json={"name": "G", "memberIds": [bob.id, carol.id]}).get_json()["_id"]
    posted = api.post(f"/api/chats/{gid}/messages", alice, json={"text": "hello"}).get_json()
    assert api.put(f"/api/chats/{gid}/read", carol, json={"upTo": posted["_id"]}).status_code == 200
    assert api.put(f"/api/messages/read/{posted['_id']}", bob).status_code == 200
    assert api.get("/api/messages/chats", bob).status_code == 200
    assert api.get("/api/sync", bob).status_code == 200
    other_device = api.post("/api/auth/login", json={"email": bob.email, "password": PASSWORD}).get_json()["token"]
    assert api.post("/api/auth/logout", headers={"Authorization": f"Bearer {other_device}"}).status_code == 200
    assert api.get("/api/auth/check", bob).status_code == 200
    collections = {collection.name for collection, _condition in record_filters}
    assert {"users", "chats", "messages", "revoked_tokens", "events"} <= collections
    assert not _unindexed(record_filters)
