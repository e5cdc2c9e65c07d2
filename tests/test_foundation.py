"""Application factory, indexes, CLI and the database connection."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.api import ApiClient
from tests.support.live import start_live_server


def test_two_apps_share_nothing_but_the_database(tmp_path: Path, api: ApiClient) -> None:
    from chatbox import create_app, socketio_of

    first = create_app({"UPLOAD_DIR": str(tmp_path / "one")})
    second = create_app({"UPLOAD_DIR": str(tmp_path / "two")})
    rt1, rt2 = first.extensions["chatbox"], second.extensions["chatbox"]
    assert socketio_of(first) is not socketio_of(second)
    assert socketio_of(first).server is not socketio_of(second).server
    assert rt1.presence is not rt2.presence and rt1.limiter is not rt2.limiter
    rt1.presence.add_connection("someone", "sid-1")
    assert rt1.presence.is_online("someone") and not rt2.presence.is_online("someone")
    # ...but a user created through one is visible through the other (one database).
    signup = first.test_client().post(
        "/api/auth/signup", json={"fullName": "Shared", "email": "shared@example.com", "password": "long enough"}
    )
    token = signup.get_json()["token"]
    second.config["JWT_SECRET_KEY"] = first.config["JWT_SECRET_KEY"]
    assert second.test_client().get("/api/auth/check", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_create_indexes_command_builds_the_unique_indexes(app: Any) -> None:
    from mongoengine.connection import get_db

    result = app.test_cli_runner().invoke(args=["create-indexes"])
    assert result.exit_code == 0, result.output
    assert "indexes ready: chats" in result.output
    db = get_db()
    chat_indexes = db["chats"].index_information()
    assert any(spec.get("unique") and spec["key"] == [("pairKey", 1)] for spec in chat_indexes.values())
    user_indexes = db["users"].index_information()
    assert any(spec.get("unique") and spec["key"] == [("email", 1)] for spec in user_indexes.values())
    message_keys = [spec["key"] for spec in db["messages"].index_information().values()]
    assert [("chatId", 1), ("_id", -1)] in message_keys
    assert [("receiverId", 1), ("status", 1)] in message_keys


def test_first_messages_racing_still_make_one_chat(api: ApiClient, monkeypatch: Any) -> None:
    from chatbox.messages.actions import send as service
    from chatbox.models import Chat, User

    alice, bob = api.signup("Alice"), api.signup("Bob")
    a, b = User.objects.get(id=alice.id), User.objects.get(id=bob.id)
    existing, created = service.get_or_create_chat(a, b)
    assert created
    # The other writer's insert lands between our lookup and our insert: the unique index settles it.
    real_objects = Chat.objects
    lookups = {"n": 0}

    class MissOnce:
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            queryset = real_objects(*args, **kwargs)
            lookups["n"] += 1
            return queryset.none() if lookups["n"] == 1 else queryset

        def get(self, *args: Any, **kwargs: Any) -> Any:
            return real_objects.get(*args, **kwargs)

    monkeypatch.setattr(Chat, "objects", MissOnce())
    chat, created_again = service.get_or_create_chat(b, a)
    assert not created_again and chat.id == existing.id
    monkeypatch.undo()
    assert Chat.objects.count() == 1


@pytest.mark.slow
def test_unreachable_mongodb_makes_healthz_503(tmp_path: Path) -> None:
    server = start_live_server(
        tmp_path,
        extra_env={
            "MONGO_URI": "mongodb://127.0.0.1:9/chatbox",
            "MONGO_TIMEOUT_MS": "300",
            "AUTO_CREATE_INDEXES": "false",
        },
        wait_for_status=503,
    )
    try:
        response = requests.get(f"{server.url}/healthz", timeout=30)
        assert response.status_code == 503
        assert response.json()["database"] == "error" and response.json()["status"] == "error"
        signup = requests.post(
            f"{server.url}/api/auth/signup",
            json={"fullName": "X", "email": "x@example.com", "password": "long enough"},
            timeout=30,
        )
        assert signup.status_code == 503 and signup.json()["code"] == "database_unavailable"
    finally:
        server.stop()


def test_chat_summary_never_moves_back_to_an_older_message(api: ApiClient) -> None:
    from chatbox.messages.actions.send import _record_in_chat
    from chatbox.models import Chat, Message

    alice, bob = api.signup("Alice"), api.signup("Bob")
    older = api.send(alice, bob, "older").get_json()
    newer = api.send(alice, bob, "newer").get_json()
    chat = Chat.objects.get(id=older["chatId"])
    # The older send's bookkeeping lands last, as when two sends race.
    first, _before = _record_in_chat(chat.id, [Message.objects.get(id=older["_id"])])
    assert first is False
    chat.reload()
    assert str(chat.last_message_id) == newer["_id"]
    summary = api.get("/api/messages/chats", bob).get_json()[0]
    assert summary["lastMessage"]["_id"] == newer["_id"] and summary["lastMessageAt"] == newer["createdAt"]


def _database_name_for(uri: str, db_name: str) -> str:
    """The database a fresh process would use; connect=False means no server is needed to tell."""
    script = (
        "from chatbox.db import connect_database\n"
        "from mongoengine.connection import get_db\n"
        f"connect_database({uri!r}, {db_name!r}, 300)\n"
        "print(get_db().name)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.strip().splitlines()[-1]


def test_mongo_db_name_names_the_database_when_the_uri_does_not() -> None:
    assert _database_name_for("mongodb://127.0.0.1:9", "chatbox_prod") == "chatbox_prod"
    assert _database_name_for("mongodb://127.0.0.1:9/from_uri", "chatbox_prod") == "from_uri"
