"""The MongoEngine connection: real MongoDB when MONGO_URI is set, mongomock otherwise."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import mongoengine
from mongoengine.connection import get_db

from chatbox.background import Periodic
from chatbox.models import ALL_DOCUMENTS
from chatbox.models.event import ensure_event_indexes, remove_expired

log = logging.getLogger("chatbox.db")


def connect_database(uri: str | None, db_name: str, timeout_ms: int) -> None:
    """Connect once per process; apps created later in the same process share the connection."""
    try:
        mongoengine.get_connection()
        return
    except mongoengine.ConnectionFailure:
        pass
    if uri:
        # connect=False: the client opens its sockets on first use, i.e. after gunicorn forks.
        # A database named in the URI wins over `db` (MONGO_DB_NAME); without either MongoEngine
        # would silently use "test".
        mongoengine.connect(
            db=db_name,
            host=uri,
            connect=False,
            uuidRepresentation="standard",
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
        )
        log.info("connected to MongoDB")
        return
    import mongomock
    import mongomock.gridfs

    # pymongo's gridfs module works on mongomock's collections only after this (see docs/deployment.md
    # for what the embedded database's GridFS does not do).
    mongomock.gridfs.enable_gridfs_integration()
    log.warning("MONGO_URI is not set: using an in-memory database, nothing is kept when the server stops")
    mongoengine.connect(
        db=db_name,
        host="mongodb://localhost",
        mongo_client_class=mongomock.MongoClient,
        uuidRepresentation="standard",
    )


def embedded() -> bool:
    """Is this process on the in-memory database (no MONGO_URI)?"""
    import mongomock

    return isinstance(mongoengine.get_connection(), mongomock.MongoClient)


def create_indexes(event_retention_days: int) -> list[str]:
    created = []
    for document in ALL_DOCUMENTS:
        document.ensure_indexes()
        created.append(document._get_collection_name())
    # The embedded database checks a TTL index at every access of the collection: it gets the
    # periodic sweep below instead (chatbox/models/event.py).
    ensure_event_indexes(event_retention_days, expire=not embedded())
    return created


def expiry_sweep(event_retention_days: int, interval: float, spawn: Callable[..., Any]) -> Periodic | None:
    """On the embedded database, what MongoDB's TTL index does for the event stream: drop expired
    events every `interval` seconds (None on MongoDB, whose server does it, or with `interval` 0)."""
    if interval <= 0 or not embedded():
        return None
    return Periodic("expired events sweep", interval, lambda: remove_expired(event_retention_days), spawn=spawn)


def ping() -> bool:
    try:
        get_db().command("ping")
        return True
    except Exception:  # any driver failure means "unreachable" to a health check
        log.exception("database ping failed")
        return False
