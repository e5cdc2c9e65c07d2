"""The embedded (mongomock) database, which every app and in-process server of a test process shares."""

from __future__ import annotations


def empty_database() -> None:
    """Drop every collection, indexes with them: the next app starts on an empty database and creates its
    indexes again. Before any app connected there is nothing to drop."""
    from mongoengine.connection import ConnectionFailure, get_db

    try:
        db = get_db()
    except ConnectionFailure:
        return
    for name in db.list_collection_names():
        db.drop_collection(name)


def delete_every_document() -> None:
    """Empty every collection but keep it and its indexes, under an app that goes on running: for a test
    that starts over with new accounts (the app's caches only know the old accounts' ids)."""
    from mongoengine.connection import get_db

    db = get_db()
    for name in db.list_collection_names():
        db[name].delete_many({})
