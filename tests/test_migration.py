"""`flask --app wsgi migrate-chats` on a database holding Part 1 documents (written raw, exactly as Part 1
stored them): new code reads them before the migration, the command brings them to the new shape, a
second run changes nothing, and everything keeps working after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId

from chatbox.models import pair_key
from tests.support.api import ApiClient, User


def _part1_chat(db: Any, a: User, b: User, texts: list[tuple[User, str]]) -> tuple[ObjectId, list[ObjectId]]:
    """A chat and its messages as Part 1 stored them: no kind, no mutes, no system field."""
    chat_id = ObjectId()
    ids = []
    for sender, text in texts:
        receiver = b if sender is a else a
        message_id = ObjectId()
        at = datetime(2026, 1, 1, 12, 0, len(ids))
        db.messages.insert_one(
            {
                "_id": message_id,
                "chatId": chat_id,
                "senderId": ObjectId(sender.id),
                "receiverId": ObjectId(receiver.id),
                "text": text,
                "attachments": [],
                "status": "sent",
                "clientMessageId": None,
                "batchId": None,
                "createdAt": at,
                "updatedAt": at,
                "deliveredAt": None,
                "readAt": None,
            }
        )
        ids.append(message_id)
    db.chats.insert_one(
        {
            "_id": chat_id,
            "pairKey": pair_key(ObjectId(a.id), ObjectId(b.id)),
            "participants": sorted([ObjectId(a.id), ObjectId(b.id)], key=str),
            "lastMessageId": ids[-1],
            "lastMessageAt": datetime(2026, 1, 1, 12, 0, len(ids) - 1),
            "clearedUpTo": {},
            "createdAt": datetime(2026, 1, 1, 12, 0, 0),
        }
    )
    return chat_id, ids


def test_migrate_chats_on_part1_data(app: Any, api: ApiClient) -> None:
    from mongoengine.connection import get_db

    db = get_db()
    alice, bob, carol = api.signup("Alice"), api.signup("Bob"), api.signup("Carol")
    chat_id, ids = _part1_chat(db, alice, bob, [(alice, "old one"), (bob, "old two")])
    _part1_chat(db, alice, carol, [(carol, "hello alice")])
    # before the migration: new code reads the old documents
    listed = api.get("/api/messages/chats", alice).get_json()
    assert [c["kind"] for c in listed] == ["direct", "direct"] and listed[0]["unreadCount"] == 1
    by_id = api.get(f"/api/chats/{chat_id}", alice).get_json()
    assert by_id["kind"] == "direct" and by_id["isMuted"] is False and by_id["user"]["_id"] == bob.id
    assert [m["text"] for m in api.get(f"/api/chats/{chat_id}/messages", bob).get_json()] == ["old one", "old two"]
    assert all(m["system"] is None for m in api.get(f"/api/messages/{bob.id}", alice).get_json())
    assert api.put(f"/api/chats/{chat_id}/mute", alice, json={"until": None}).status_code == 200
    group = api.post("/api/chats", alice, json={"name": "New", "memberIds": [bob.id]}).get_json()["_id"]

    runner = app.test_cli_runner()
    first = runner.invoke(args=["migrate-chats", "--batch", "2"])
    assert first.exit_code == 0, first.output
    assert "chats: 3 seen, 2 updated" in first.output
    assert "messages: 4 seen, 3 updated" in first.output  # the group's created message has its system field
    assert db.chats.count_documents({"kind": {"$exists": False}}) == 0
    assert db.chats.find_one({"_id": chat_id})["kind"] == "direct"
    assert db.chats.find_one({"_id": ObjectId(group)})["kind"] == "group"
    assert db.messages.count_documents({"system": {"$exists": False}}) == 0
    assert db.messages.find_one({"_id": ids[0]})["text"] == "old one"  # nothing else touched

    second = runner.invoke(args=["migrate-chats"])
    assert second.exit_code == 0 and "chats: 3 seen, 0 updated" in second.output
    assert "messages: 4 seen, 0 updated" in second.output

    # after: the old chat behaves as any direct chat
    sent = api.post(f"/api/chats/{chat_id}/messages", bob, json={"text": "after"}).get_json()
    assert sent["receiverId"] == alice.id
    assert api.put(f"/api/chats/{chat_id}/read", alice, json={"upTo": sent["_id"]}).get_json() == {"updated": 2}
    assert api.get(f"/api/chats/{chat_id}", alice).get_json()["isMuted"] is True
    assert api.post(f"/api/messages/send/{bob.id}", alice, json={"text": "same chat"}).get_json()["chatId"] == str(
        chat_id
    )
