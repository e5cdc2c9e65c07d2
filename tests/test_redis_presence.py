"""RedisPresence against a real redis-server: presence shared by several nodes, and dead nodes expiring."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import gevent
import pytest

from chatbox.processes import RedisServer, start_redis_server
from chatbox.realtime.redis_presence import RedisPresence, redis_client
from tests.support.sockets import wait_until


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: Any) -> Iterator[RedisServer]:
    server = start_redis_server(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def make_node(redis_server: RedisServer) -> Any:
    prefix = f"test:{uuid.uuid4().hex}:"

    def make(ttl: int = 60) -> RedisPresence:
        return RedisPresence(redis_client(redis_server.url, 200), ttl, prefix=prefix)

    return make


def test_first_and_last_socket_across_nodes_are_the_only_transitions(make_node: Any) -> None:
    a, b = make_node(), make_node()
    assert a.add_connection("u1", "s1") is True
    assert b.add_connection("u1", "s2") is False
    assert a.add_connection("u1", "s3") is False
    assert a.is_online("u1") and b.is_online("u1")
    assert b.connection_count("u1") == 3
    assert a.remove_connection("u1", "s1") is False
    assert a.remove_connection("u1", "s3") is False
    assert b.is_online("u1") and a.is_online("u1")  # a has no socket left, b still has one
    assert a.remove_connection("u1", "unknown") is False
    assert b.remove_connection("u1", "s2") is True
    assert not a.is_online("u1") and not b.is_online("u1")
    assert a.connection_count("u1") == 0


def test_online_among_sees_every_node(make_node: Any) -> None:
    a, b = make_node(), make_node()
    a.add_connection("u1", "s1")
    b.add_connection("u2", "s2")
    assert a.online_among(["u1", "u2", "u3", "u2"]) == {"u1", "u2"}
    assert b.online_among([]) == set()
    b.remove_connection("u2", "s2")
    assert a.online_among(["u1", "u2"]) == {"u1"}


def test_viewing_a_chat_is_seen_by_every_node_and_ends_with_the_socket(make_node: Any) -> None:
    a, b = make_node(), make_node()
    a.add_connection("u1", "s1")
    a.set_viewing("u1", "s1", "friend")
    assert b.is_viewing("u1", "friend") and not b.is_viewing("u1", "someone-else")
    a.stop_viewing("u1", "s1", "friend")
    assert not b.is_viewing("u1", "friend")
    a.set_viewing("u1", "s1", "friend")
    a.set_viewing("u1", "not-my-socket", "other")  # a socket this node does not hold views nothing
    assert not b.is_viewing("u1", "other")
    a.remove_connection("u1", "s1")
    assert not b.is_viewing("u1", "friend")


def test_viewing_among_asks_every_node_at_once(make_node: Any) -> None:
    a, b = make_node(), make_node()
    for user, sid, node in (("u1", "s1", a), ("u2", "s2", b), ("u3", "s3", b)):
        node.add_connection(user, sid)
    a.set_viewing("u1", "s1", "chat:g")
    b.set_viewing("u2", "s2", "chat:g")
    b.set_viewing("u3", "s3", "chat:other")
    assert a.viewing_among(["u1", "u2", "u3", "u4"], "chat:g") == {"u1", "u2"}
    assert b.viewing_among(["u1", "u2", "u3"], "chat:other") == {"u3"}
    assert a.viewing_among([], "chat:g") == set()
    b.remove_connection("u2", "s2")
    assert a.viewing_among(["u1", "u2"], "chat:g") == {"u1"}


def test_concurrent_connects_and_disconnects_on_two_nodes_make_one_transition_each(make_node: Any) -> None:
    a, b = make_node(), make_node()
    sockets = [(a if i % 2 else b, f"s{i}") for i in range(40)]
    came = gevent.joinall([gevent.spawn(node.add_connection, "u1", sid) for node, sid in sockets], raise_error=True)
    assert sum(bool(g.value) for g in came) == 1
    assert a.connection_count("u1") == 40
    went = gevent.joinall([gevent.spawn(node.remove_connection, "u1", sid) for node, sid in sockets], raise_error=True)
    assert sum(bool(g.value) for g in went) == 1
    assert not a.is_online("u1") and not b.is_online("u1")


def test_a_dead_nodes_sockets_expire_and_are_reaped(make_node: Any) -> None:
    dead, live = make_node(ttl=1), make_node()
    dead.add_connection("u1", "s1")
    dead.set_viewing("u1", "s1", "friend")
    dead.add_connection("u2", "s2")
    live.add_connection("u2", "s3")
    assert live.is_online("u1") and live.is_viewing("u1", "friend")
    # `dead` never refreshes again: once its key expires, its sockets stop counting.
    wait_until(lambda: not live.is_online("u1"), "the dead node's key to expire", seconds=10)
    assert not live.is_viewing("u1", "friend")
    assert live.is_online("u2")
    assert live.reap_dead_nodes() == ["u1"]
    assert live.reap_dead_nodes() == []
    assert live.connection_count("u2") == 1
    # A node that was only late comes back with all of its sockets on its next heartbeat.
    dead.refresh()
    assert live.is_online("u1") and live.is_viewing("u1", "friend")
    assert live.connection_count("u2") == 2


def test_a_clean_shutdown_is_reaped_at_once(make_node: Any) -> None:
    leaving, staying = make_node(), make_node()
    leaving.add_connection("u1", "s1")
    leaving.shutdown()
    assert not staying.is_online("u1")
    assert staying.reap_dead_nodes() == ["u1"]


def test_stop_viewing_ends_only_the_named_chat(make_node: Any) -> None:
    a, b = make_node(), make_node()
    a.add_connection("u1", "s1")
    a.set_viewing("u1", "s1", "friend")
    a.stop_viewing("u1", "s1", "someone-else")
    assert b.is_viewing("u1", "friend")
    a.stop_viewing("u1", "s1", "friend")
    assert not b.is_viewing("u1", "friend") and not a.is_viewing("u1", "friend")
