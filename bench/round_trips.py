"""Database round trips per Socket.IO event of one signed-in socket: `.venv/bin/python -m bench.round_trips`.

Serves one ChatBox app in this process, signs two users up (with a chat between them), connects one
socket and sends each event `--events` times, counting the database operations the server makes for
them: with the session cache off (`SESSION_CACHE_USERS=0`: every event reads the user, as before the
cache) and on (the default). On a real MongoDB (`--mongo-uri`, a database of its own, dropped at the
end) the count is pymongo's command monitoring (one command started = one round trip); on the embedded
database, which has no wire protocol, it counts the calls on its collections instead.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from typing import Any  # noqa: E402

import socketio  # noqa: E402
from pymongo import monitoring  # noqa: E402

# The collection methods that each make one round trip on MongoDB (a `find` here is one cursor batch:
# the server's reads here all fit in one).
OPERATIONS = (
    "find",
    "find_one",
    "count_documents",
    "aggregate",
    "distinct",
    "insert_one",
    "insert_many",
    "update_one",
    "update_many",
    "replace_one",
    "delete_one",
    "delete_many",
    "find_one_and_update",
    "bulk_write",
)
IGNORED_COMMANDS = {"endSessions", "hello", "isMaster", "ismaster", "ping", "getMore", "killCursors"}


class Commands(monitoring.CommandListener):
    """pymongo's command monitoring: every command this process sends to MongoDB, by collection."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name not in IGNORED_COMMANDS:
            collection = event.command.get(event.command_name)
            self.counts[f"{collection}.{event.command_name}"] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@contextmanager
def embedded_operations() -> Iterator[Counter[str]]:
    """The same count on the embedded database (mongomock): calls on its collections, by collection."""
    import mongomock

    counts: Counter[str] = Counter()
    originals = {name: getattr(mongomock.collection.Collection, name) for name in OPERATIONS}

    def counting(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            counts[f"{self.name}.{name}"] += 1
            return original(self, *args, **kwargs)

        return call

    for name, original in originals.items():
        setattr(mongomock.collection.Collection, name, counting(name, original))
    try:
        yield counts
    finally:
        for name, original in originals.items():
            setattr(mongomock.collection.Collection, name, original)


def measure(counts: Counter[str], cache_users: int, events: int, mongo_uri: str | None) -> dict[str, Counter[str]]:
    from chatbox import create_app
    from chatbox.realtime.serving import ChatBoxHandler, ChatBoxServer

    app = create_app(
        {
            "CHATBOX_ENV": "testing",
            "RATELIMIT_ENABLED": False,
            "MONGO_URI": mongo_uri or "",
            "SESSION_CACHE_USERS": cache_users,
            "JWT_SECRET_KEY": "round-trips-" + uuid.uuid4().hex * 2,
        }
    )
    server = ChatBoxServer(("127.0.0.1", 0), app, handler_class=ChatBoxHandler, log=None, error_log=None)
    server.start()
    client = socketio.Client(reconnection=False)
    try:
        http = app.test_client()
        users = []
        for name in ("Sender", "Receiver"):
            body = {"fullName": name, "email": f"{name.lower()}-{uuid.uuid4().hex}@example.com", "password": "x" * 12}
            users.append(http.post("/api/auth/signup", json=body).get_json())
        me, other = users
        headers = {"Authorization": f"Bearer {me['token']}"}
        sent = http.post(f"/api/messages/send/{other['_id']}", json={"text": "hello"}, headers=headers)
        answer = http.post(
            f"/api/messages/send/{me['_id']}",
            json={"text": "hi"},
            headers={"Authorization": f"Bearer {other['token']}"},
        ).get_json()
        assert sent.status_code == 201
        client.connect(f"http://127.0.0.1:{server.address[1]}", auth={"token": me["token"]}, transports=["websocket"])
        client.sleep(0.5)  # the connect's own work (presence, pending deliveries) is done
        per_event: dict[str, Counter[str]] = {}
        payloads: dict[str, Callable[[int], dict[str, Any]]] = {
            "typing": lambda i: {"to": other["_id"]},
            "leave-chat": lambda i: {"userId": other["_id"]},
            "message-read": lambda i: {"messageId": answer["_id"]},
            "new-message": lambda i: {"to": other["_id"], "text": f"m{i}", "clientMessageId": uuid.uuid4().hex},
        }
        for event, payload in payloads.items():
            before = counts.copy()
            for i in range(events):
                ack = client.call(event, payload(i), timeout=10)
                assert ack["ok"] is True, ack
            per_event[event] = counts - before
        return per_event
    finally:
        client.disconnect()
        app.extensions["chatbox"].sessions.stop()
        server.stop(timeout=2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.round_trips")
    parser.add_argument("--events", type=int, default=20, help="events of each kind")
    parser.add_argument("--mongo-uri", help="a MongoDB URI naming a database of its own (dropped at the end)")
    args = parser.parse_args(argv)
    results = {}
    if args.mongo_uri:
        listener = Commands()
        monitoring.register(listener)
        for label, cache_users in (("cache off", 0), ("cache on", 10000)):
            results[label] = measure(listener.counts, cache_users, args.events, args.mongo_uri)
        from mongoengine.connection import get_db

        get_db().client.drop_database(get_db().name)
    else:
        with embedded_operations() as counts:
            for label, cache_users in (("cache off", 0), ("cache on", 10000)):
                results[label] = measure(counts, cache_users, args.events, None)
    print(f"database round trips per event ({args.events} events of each kind, one signed-in socket)")
    print(f"{'event':14} {'cache':10} {'all':>6} {'users':>6}  by operation")
    for label, per_event in results.items():
        for event, counts in per_event.items():
            users = sum(n for key, n in counts.items() if key.startswith("users."))
            detail = ", ".join(f"{key} {n / args.events:g}" for key, n in sorted(counts.items()))
            print(
                f"{event:14} {label:10} {sum(counts.values()) / args.events:6.2f} {users / args.events:6.2f}  {detail}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
