"""The per-event token check reads the socket's user from the process's session cache: no user read per
event once cached, one after a change forgets the user, and a change never lets a stale document through."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import mongomock
import pytest
from bson import ObjectId

from tests.support.served import served_app
from tests.support.sockets import LiveApi, Socket

EVENTS = 10


@pytest.fixture
def user_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], int]]:
    """How many reads of one user's document the embedded database has answered so far."""
    reads: list[Any] = []
    original = mongomock.collection.Collection.find

    def find(self: Any, filter: Any = None, *args: Any, **kwargs: Any) -> Any:
        if self.name == "users" and isinstance(filter, dict):
            reads.append(filter.get("_id"))
        return original(self, filter, *args, **kwargs)

    monkeypatch.setattr(mongomock.collection.Collection, "find", find)
    yield lambda user_id: sum(1 for read in reads if read == ObjectId(user_id))


def _events(socket: Socket, other_id: str) -> None:
    for _ in range(EVENTS):
        assert socket.call("leave-chat", {"userId": other_id}) == {"ok": True}


def test_events_of_a_signed_in_socket_read_its_user_once_per_change(tmp_path: Any, user_reads: Any) -> None:
    with served_app(tmp_path, {"SESSION_SWEEP_SECONDS": 3600}) as (_app, url):
        live = LiveApi(url)
        me, other = live.signup("Me"), live.signup("Other")
        socket = Socket(url, me)
        try:
            before = user_reads(me.id)
            _events(socket, other.id)
            assert user_reads(me.id) == before  # the document read at connect serves every event

            # A profile change forgets the document: the next event reads it once, the others none.
            assert live.call("PUT", "/api/auth/update-profile", me, json={"fullName": "Me Again"}).status_code == 200
            before = user_reads(me.id)
            _events(socket, other.id)
            assert user_reads(me.id) == before + 1
        finally:
            socket.close()


def test_without_the_cache_every_event_reads_the_user(tmp_path: Any, user_reads: Any) -> None:
    with served_app(tmp_path, {"SESSION_CACHE_USERS": 0}) as (_app, url):
        live = LiveApi(url)
        me, other = live.signup("Me"), live.signup("Other")
        socket = Socket(url, me)
        try:
            before = user_reads(me.id)
            _events(socket, other.id)
            assert user_reads(me.id) == before + EVENTS
        finally:
            socket.close()


def test_a_document_read_before_a_change_is_not_kept(app: Any, api: Any) -> None:
    from chatbox.models import User
    from chatbox.realtime.sessions import SessionCache

    me = api.signup("Me")
    cache = SessionCache(max_users=2, usable=True)
    generation = cache.generation
    stale = User.objects(id=me.id).first()
    cache.forget(me.id)  # a change announced while that read was under way
    cache.keep(stale, generation)
    assert len(cache) == 0
    cache.keep(stale, cache.generation)
    assert len(cache) == 1
    # At most max_users documents, least recently used dropped first.
    for name in ("A", "B"):
        cache.keep(User.objects(id=api.signup(name).id).first(), cache.generation)
    assert len(cache) == 2
    # A process that stops hearing other processes' changes keeps nothing until it hears them again.
    cache.listening(False)
    cache.keep(stale, cache.generation)
    assert len(cache) == 0
    cache.listening(True)
    cache.keep(stale, cache.generation)
    assert len(cache) == 1
