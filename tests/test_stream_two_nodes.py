"""The event stream across two nodes joined by a real redis-server: events for one user produced on both
nodes at once reach each of that user's sockets, on either node, in seq order with no gap or duplicate;
a receiver that keeps dropping and resuming misses nothing and gets nothing twice."""

from __future__ import annotations

import random
from typing import Any

import gevent

from tests.support.sockets import LiveApi, LiveUser, Socket, wait_until
from tests.test_two_nodes import connect, redis_server, start_nodes  # noqa: F401 - fixtures

GAP_MS = 400


def _resume(start_nodes: Any, node: Any, user: LiveUser, since: int | None) -> Socket:  # noqa: F811
    auth: dict[str, Any] = {"token": user.token}
    if since is not None:
        auth["since"] = since
    client = Socket(node.url, user, auth=auth)
    start_nodes.clients.append(client)
    return client


def test_events_for_one_user_made_on_two_nodes_at_once_arrive_in_order(start_nodes: Any) -> None:  # noqa: F811
    node1, node2 = start_nodes(EVENT_GAP_MS=GAP_MS)
    bob = LiveApi(node1.url).signup("Bob")
    b1, b2 = connect(start_nodes, node1, bob), connect(start_nodes, node2, bob)
    for client in (b1, b2):
        client.wait_for("online-users")
    # Node 2 announces late (a slow network to Redis): its lower numbers are overtaken by node 1's.
    bus2 = node2.rt.notifier.bus
    publish = bus2.publish

    def late(deliveries: Any) -> None:
        gevent.sleep(random.uniform(0, 0.05))
        publish(deliveries)

    bus2.publish = late
    count = 60
    greenlets = [
        gevent.spawn(node.rt.notifier.to_user, bob.id, "new-message", {"_id": f"e{i}", "text": f"from {i}"})
        for i in range(count)
        for node in (node1, node2)
    ]
    gevent.joinall(greenlets, raise_error=True)
    for client in (b1, b2):
        wait_until(lambda c=client: len(c.durable) >= 2 * count, "every event")
        gevent.sleep(0.2)
        assert client.seqs() == list(range(1, 2 * count + 1))
    assert node1.rt.sequencer.skipped == node2.rt.sequencer.skipped == 0


def test_sends_from_both_nodes_to_one_receiver_arrive_in_order(start_nodes: Any) -> None:  # noqa: F811
    node1, node2 = start_nodes(EVENT_GAP_MS=GAP_MS)
    alice, carol = LiveApi(node1.url).signup("Alice"), LiveApi(node2.url).signup("Carol")
    bob = LiveApi(node1.url).signup("Bob")
    b = connect(start_nodes, node2, bob)
    b.wait_for("online-users")
    senders = [
        gevent.spawn(LiveApi(node.url).send, who, bob, f"{who.full_name} {i}")
        for i in range(25)
        for node, who in ((node1, alice), (node2, carol))
    ]
    gevent.joinall(senders, raise_error=True)
    expected = 2 + 50  # a new-chat from each sender, fifty messages
    wait_until(lambda: len(b.durable) >= expected, "every event")
    gevent.sleep(0.2)
    assert b.seqs() == list(range(1, expected + 1))
    texts = [d["text"] for _s, e, d in b.durable if e == "new-message"]
    assert len(set(texts)) == 50


def test_a_receiver_resuming_ten_times_gets_each_event_once(start_nodes: Any) -> None:  # noqa: F811
    node1, node2 = start_nodes(EVENT_GAP_MS=GAP_MS)
    alice, bob = LiveApi(node1.url).signup("Alice"), LiveApi(node2.url).signup("Bob")
    a = connect(start_nodes, node1, alice)
    a.wait_for("online-users")
    got: list[tuple[int, str, Any]] = []
    acked: list[str] = []
    ack_seqs: list[int] = []
    done = gevent.event.Event()

    def send_all() -> None:
        for i in range(100):
            ack = a.call("new-message", {"to": bob.id, "text": f"m{i}", "clientMessageId": f"k{i}"})
            assert ack["ok"] is True, ack
            acked.append(ack["message"]["_id"])
            ack_seqs.append(ack["seq"])
            gevent.sleep(0.01)
        done.set()

    def receipts(client: Socket, seen: set[str]) -> None:
        """Bob's client acks what it gets: delivered, and read for every third message."""
        for _seq, event, data in list(client.durable):
            if event == "new-message" and data["_id"] not in seen:
                seen.add(data["_id"])
                if client.client.connected:
                    client.client.emit("message-delivered", {"messageId": data["_id"]})
                    if len(seen) % 3 == 0:
                        client.client.emit("message-read", {"messageId": data["_id"]})

    sender = gevent.spawn(send_all)
    seen: set[str] = set()
    since: int | None = 0
    nodes = [node1, node2]
    for round_ in range(10):
        client = _resume(start_nodes, nodes[round_ % 2], bob, since)
        deadline = gevent.Timeout(0.15 + random.random() * 0.2)
        deadline.start()
        try:
            while True:
                receipts(client, seen)
                gevent.sleep(0.02)
        except gevent.Timeout:
            pass
        client.close()
        got.extend(client.durable)
        if client.durable:
            since = client.durable[-1][0]
    sender.join(timeout=60)
    assert done.is_set()
    last = _resume(start_nodes, node2, bob, since)

    def position_of(user: LiveUser) -> int:
        return int(LiveApi(node1.url).call("GET", "/api/sync", user).json()["position"])

    def seen_up_to() -> int | None:
        # The earlier rounds may have seen the whole stream already: then there is no rest to wait for.
        return last.durable[-1][0] if last.durable else since

    wait_until(lambda: (seen_up_to() or 0) >= position_of(bob), "the rest of the stream")
    gevent.sleep(0.2)
    got.extend(last.durable)
    seqs = [seq for seq, _e, _d in got]
    assert seqs == list(range(seqs[0], seqs[-1] + 1)), "each seq exactly once, in order"
    messages = [d["_id"] for _s, e, d in got if e == "new-message"]
    assert len(messages) == len(set(messages))
    assert seqs[0] == 1 and set(messages) == set(acked)
    # The sender's socket: its events live and its sends' seqs in the acks, together each seq once.
    wait_until(lambda: len(a.durable) + len(ack_seqs) >= position_of(alice), "Alice's receipts")
    gevent.sleep(0.2)
    assert sorted(a.seqs() + ack_seqs) == list(range(1, position_of(alice) + 1))
    assert a.seqs() == sorted(a.seqs())
