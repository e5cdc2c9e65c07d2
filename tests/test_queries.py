"""The chat list and a history page cost a bounded number of database queries, whatever the data size."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import mongomock
import pytest

from tests.support.api import ApiClient, User


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
