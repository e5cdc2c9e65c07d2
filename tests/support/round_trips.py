"""Counting the database round trips the embedded database stands in for, as MongoDB would see them.

A collection method is one round trip (one command), except `find`: pymongo's cursor is lazy, so a
`find` whose cursor is never read sends nothing (MongoEngine builds such cursors, e.g. for `count()`),
and one that is read sends its command at the first read. mongomock carries out some commands with
others (`find_one` with `find`, `find_one_and_update` with `find_one`, `aggregate` with `find`): only
the outer call is one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import mongomock
import pytest

COMMANDS = (
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
    "find_one_and_replace",
    "find_one_and_delete",
    "bulk_write",
)


def _filter_of(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if name == "aggregate":
        pipeline = args[0] if args else kwargs.get("pipeline", [])
        return pipeline[0].get("$match", {}) if pipeline else {}
    if name == "distinct":
        return args[1] if len(args) > 1 else kwargs.get("filter") or {}
    if name in ("insert_one", "insert_many", "bulk_write"):
        return None
    return (args[0] if args else kwargs.get("filter")) or {}


@contextmanager
def recording(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str, Any]]]:
    """Every round trip made while this is open, in order: (collection, command, filter)."""
    calls: list[tuple[str, str, Any]] = []
    depth = {"n": 0}
    for name in COMMANDS:
        original = getattr(mongomock.collection.Collection, name)

        def command(self: Any, *args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            outer = depth["n"] == 0
            if outer and _name != "find":
                calls.append((self.name, _name, _filter_of(_name, args, kwargs)))
            depth["n"] += 1
            try:
                result = _original(self, *args, **kwargs)
            finally:
                depth["n"] -= 1
            if outer and _name == "find":
                result._round_trip = (self.name, "find", _filter_of(_name, args, kwargs))
            return result

        monkeypatch.setattr(mongomock.collection.Collection, name, command)

    compute = mongomock.collection.Cursor._compute_results
    clone = mongomock.collection.Cursor.clone

    def first_read(self: Any, *args: Any, **kwargs: Any) -> Any:
        pending = self.__dict__.pop("_round_trip", None)
        if pending is not None and depth["n"] == 0:
            calls.append(pending)
        return compute(self, *args, **kwargs)

    def cloned(self: Any) -> Any:
        copy = clone(self)
        if "_round_trip" in self.__dict__:  # a copy not read yet: reading it is the command
            copy._round_trip = self._round_trip
        return copy

    monkeypatch.setattr(mongomock.collection.Cursor, "_compute_results", first_read)
    monkeypatch.setattr(mongomock.collection.Cursor, "clone", cloned)
    yield calls
