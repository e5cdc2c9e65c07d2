"""Message lifecycle over REST: edit, delete for everyone or for me, reactions, replies, forward."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest

from tests.support.api import ApiClient, User
from tests.support.files import PNG

NEW_FIELDS = {"editedAt", "deletedAt", "replyTo", "reactions", "forwarded", "system"}


def _history(api: ApiClient, me: User, other: User) -> list[dict[str, Any]]:
    response = api.get(f"/api/messages/{other.id}", me)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _chat(api: ApiClient, me: User, other: User) -> dict[str, Any]:
    rows = [c for c in api.get("/api/messages/chats", me).get_json() if c["user"]["_id"] == other.id]
    assert len(rows) == 1
    return rows[0]


def _search(api: ApiClient, me: User, other: User, q: str) -> list[str]:
    response = api.get(f"/api/messages/search/{other.id}", me, query_string={"q": q})
    assert response.status_code == 200
    return [m["_id"] for m in response.get_json()]


def _sent(api: ApiClient, sender: User, receiver: User, text: str, **extra: Any) -> dict[str, Any]:
    response = api.send(sender, receiver, text, **extra)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _with_file(api: ApiClient, sender: User, receiver: User, text: str = "", image: bool = False) -> dict[str, Any]:
    part = {"images": (io.BytesIO(PNG), "pic.png")} if image else {"file": (io.BytesIO(b"notes\n"), "notes.txt")}
    response = api.post(f"/api/messages/send/{receiver.id}", sender, data={"text": text, **part})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _age(app: Any, message_id: str, **delta: float) -> None:
    """Move a message's sending time into the past (the windows count from createdAt)."""
    from chatbox.models import Message

    with app.app_context():
        message = Message.objects.get(id=message_id)
        Message.objects(id=message_id).update_one(set__created_at=message.created_at - timedelta(**delta))


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    body = response.get_json()
    assert response.status_code == status and body["code"] == code, (response.status_code, body)
    assert body["message"]
    return body


def _edit(api: ApiClient, user: User, message_id: str, text: Any) -> Any:
    return api.request("PATCH", f"/api/messages/{message_id}", user, json={"text": text})


def _delete(api: ApiClient, user: User, message_id: str, scope: str | None) -> Any:
    query = {"for": scope} if scope is not None else {}
    return api.delete(f"/api/messages/{message_id}", user, query_string=query)


def _react(api: ApiClient, user: User, message_id: str, emoji: Any) -> Any:
    return api.put(f"/api/messages/{message_id}/reactions", user, json={"emoji": emoji})


def _forward(api: ApiClient, user: User, message_id: str, **body: Any) -> Any:
    return api.post(f"/api/messages/{message_id}/forward", user, json=body)


@pytest.fixture
def pair(api: ApiClient) -> tuple[User, User, User]:
    return api.signup("Alice"), api.signup("Bob"), api.signup("Carol")


# --- the message object ------------------------------------------------------------------------------


def test_every_message_carries_the_new_fields_with_their_defaults(api: ApiClient, pair: Any) -> None:
    alice, bob, _ = pair
    sent = _sent(api, alice, bob, "hello")
    for message in (sent, _history(api, bob, alice)[0], _chat(api, bob, alice)["lastMessage"]):
        assert set(message) >= NEW_FIELDS
        assert message["editedAt"] is None and message["deletedAt"] is None and message["replyTo"] is None
        assert message["reactions"] == [] and message["forwarded"] is False and message["system"] is None
    assert api.get(f"/api/messages/search/{alice.id}", bob, query_string={"q": "hell"}).get_json()[0]["reactions"] == []


def test_documents_stored_before_the_lifecycle_read_with_defaults(app: Any, api: ApiClient, pair: Any) -> None:
    from chatbox.models import Message

    alice, bob, _ = pair
    sent = _sent(api, alice, bob, "from an older server")
    with app.app_context():
        Message._get_collection().update_one(
            {"_id": Message.objects.get(id=sent["_id"]).id},
            {"$unset": {f: "" for f in ("editedAt", "deletedAt", "replyTo", "reactions", "forwarded", "hiddenFor")}},
        )
        raw = Message._get_collection().find_one({"text": "from an older server"})
        assert not {"editedAt", "reactions", "hiddenFor"} & set(raw)
    message = _history(api, bob, alice)[0]
    assert message["reactions"] == [] and message["forwarded"] is False and message["deletedAt"] is None
    assert _chat(api, bob, alice)["unreadCount"] == 1
    # The lifecycle works on them too.
    assert _react(api, bob, sent["_id"], "👍").status_code == 200
    assert _edit(api, alice, sent["_id"], "fixed").get_json()["text"] == "fixed"


# --- edit --------------------------------------------------------------------------------------------


def test_the_sender_edits_within_the_window(api: ApiClient, pair: Any) -> None:
    alice, bob, carol = pair
    sent = _sent(api, alice, bob, "helo")
    response = _edit(api, alice, sent["_id"], "  hello  ")
    assert response.status_code == 200
    edited = response.get_json()
    assert edited["text"] == "hello" and edited["editedAt"] and edited["_id"] == sent["_id"]
    assert _history(api, bob, alice)[0]["text"] == "hello"
    assert _chat(api, bob, alice)["lastMessage"]["editedAt"] == edited["editedAt"]
    assert _search(api, bob, alice, "hello") == [sent["_id"]] and _search(api, bob, alice, "helo") == []
    _error(_edit(api, bob, sent["_id"], "mine now"), 403, "not_sender")
    _error(_edit(api, carol, sent["_id"], "mine now"), 404, "message_not_found")
    _error(_edit(api, alice, "not-an-id", "x"), 404, "message_not_found")
    _error(_edit(api, alice, sent["_id"], "   "), 400, "empty_message")
    _error(_edit(api, alice, sent["_id"], "x" * 5001), 400, "text_too_long")
    _error(_edit(api, alice, sent["_id"], {"$set": "x"}), 400, "validation_error")
    assert _history(api, bob, alice)[0]["text"] == "hello"


def test_a_caption_may_be_edited_and_emptied(api: ApiClient, pair: Any) -> None:
    alice, bob, _ = pair
    photo = _with_file(api, alice, bob, "a caption", image=True)
    assert _edit(api, alice, photo["_id"], "new caption").get_json()["text"] == "new caption"
    emptied = _edit(api, alice, photo["_id"], "")
    assert emptied.status_code == 200 and emptied.get_json()["text"] == ""
    assert emptied.get_json()["attachments"] == photo["attachments"]


def test_edit_window(app: Any, api: ApiClient, pair: Any) -> None:
    alice, bob, _ = pair
    sent = _sent(api, alice, bob, "old")
    _age(app, sent["_id"], minutes=14)
    assert _edit(api, alice, sent["_id"], "still in time").status_code == 200
    _age(app, sent["_id"], minutes=2)
    _error(_edit(api, alice, sent["_id"], "too late"), 403, "edit_window_passed")
    app.config["EDIT_WINDOW_MINUTES"] = 0
    _error(_edit(api, alice, _sent(api, alice, bob, "new")["_id"], "off"), 403, "edit_window_passed")


def test_no_edit_of_a_deleted_message_nor_across_a_block(api: ApiClient, pair: Any) -> None:
    alice, bob, _ = pair
    gone, kept = _sent(api, alice, bob, "gone"), _sent(api, alice, bob, "kept")
    assert _delete(api, alice, gone["_id"], "everyone").status_code == 200
    _error(_edit(api, alice, gone["_id"], "back"), 409, "message_deleted")
    for blocker, blocked in ((alice, bob), (bob, alice)):
        api.post(f"/api/users/block/{blocked.id}", blocker)
        _error(_edit(api, alice, kept["_id"], "edited"), 403, "blocked")
        api.post(f"/api/users/unblock/{blocked.id}", blocker)
    assert _edit(api, alice, kept["_id"], "edited").status_code == 200


# --- delete for everyone -----------------------------------------------------------------------------


def test_delete_for_everyone_leaves_a_tombstone(app: Any, api: ApiClient, pair: Any) -> None:
    alice, bob, carol = pair
    secret = _sent(api, alice, bob, "secret words")
    bob_reacts = _react(api, bob, secret["_id"], "😮")
    assert bob_reacts.status_code == 200
    assert _chat(api, bob, alice)["unreadCount"] == 1
    _error(_delete(api, bob, secret["_id"], "everyone"), 403, "not_sender")
    _error(_delete(api, carol, secret["_id"], "everyone"), 404, "message_not_found")
    response = _delete(api, alice, secret["_id"], "everyone")
    assert response.status_code == 200 and response.get_json() == {"deleted": "everyone"}
    for viewer, other in ((alice, bob), (bob, alice)):
        tombstone = _history(api, viewer, other)[0]
        assert tombstone["_id"] == secret["_id"] and tombstone["deletedAt"]
        assert tombstone["text"] == "" and tombstone["attachments"] == [] and tombstone["reactions"] == []
        assert tombstone["image"] is None and tombstone["file"] is None
        assert _chat(api, viewer, other)["lastMessage"]["deletedAt"] == tombstone["deletedAt"]
        assert _search(api, viewer, other, "secret") == []
    assert _chat(api, bob, alice)["unreadCount"] == 0
    # Again: 200, nothing changes.
    again = _delete(api, alice, secret["_id"], "everyone")
    assert again.status_code == 200 and again.get_json() == {"deleted": "everyone"}
    assert _history(api, bob, alice)[0]["deletedAt"] == tombstone["deletedAt"]
    _error(_react(api, bob, secret["_id"], "👍"), 409, "message_deleted")


def test_delete_window(app: Any, api: ApiClient, pair: Any) -> None:
    alice, bob, _ = pair
    sent = _sent(api, alice, bob, "old")
    _age(app, sent["_id"], hours=49)
    _error(_delete(api, alice, sent["_id"], "everyone"), 403, "delete_window_passed")
    assert _delete(api, alice, sent["_id"], "me").status_code == 200  # for me: any time
    app.config["DELETE_WINDOW_HOURS"] = 0
    _error(_delete(api, alice, _sent(api, alice, bob, "new")["_id"], "everyone"), 403, "delete_window_passed")


def test_delete_for_everyone_works_across_a_block(api: ApiClient, pair: Any) -> None:
    alice, bob, _ = pair
    sent = _sent(api, alice, bob, "regret")
    api.post(f"/api/users/block/{alice.id}", bob)
    assert _delete(api, alice, sent["_id"], "everyone").status_code == 200
    assert _history(api, bob, alice)[0]["deletedAt"]


def test_delete_for_everyone_deletes_the_file_once_no_message_carries_it(api: ApiClient, pair: Any) -> None:
    alice, bob, carol = pair
    original = _with_file(api, alice, bob, "the plan")
    url = original["attachments"][0]["url"]
    copy = _forward(api, alice, original["_id"], to=[carol.id]).get_json()[0]
    assert copy["attachments"] == original["attachments"]
    assert _delete(api, alice, original["_id"], "everyone").status_code == 200
    # The forwarded copy still carries it: its chat can read it, Bob (whose copy is gone) cannot.
    assert api.get(url, carol).status_code == 200
    assert api.get(url, bob).status_code == 403
    assert _delete(api, alice, copy["_id"], "everyone").status_code == 200
    assert api.get(url, alice).status_code == 404


def test_clearing_for_good_keeps_files_that_forwards_still_carry(api: ApiClient, pair: Any) -> None:
    alice, bob, carol = pair
    shared = _with_file(api, alice, bob, "shared")
    private = _with_file(api, alice, bob, "private", image=True)
    assert _forward(api, alice, shared["_id"], to=[carol.id]).status_code == 201
    api.delete(f"/api/messages/chats/{bob.id}", alice)
    assert api.delete(f"/api/messages/chats/{alice.id}", bob).get_json()["deleted"] is True
    assert api.get(shared["attachments"][0]["url"], carol).status_code == 200
    assert api.get(private["image"], alice).status_code == 404


def test_a_forwarded_image_counts_once_and_its_space_comes_back_after_the_last_delete(
    app: Any, api: ApiClient, pair: Any
) -> None:
    from bson import ObjectId

    from chatbox.models import StorageUsage

    alice, bob, carol = pair
    photo = _with_file(api, alice, bob, "photo", image=True)
    size = photo["attachments"][0]["size"]
    copy = _forward(api, bob, photo["_id"], to=[carol.id]).get_json()[0]
    assert api.get(copy["attachments"][0]["thumbUrl"], carol).status_code == 200

    def used() -> int:
        with app.app_context():
            return int(StorageUsage.used_by(ObjectId(alice.id)))

    assert used() == size
    assert _delete(api, alice, photo["_id"], "everyone").status_code == 200
    assert used() == size and api.get(copy["image"], carol).status_code == 200
    assert _delete(api, bob, copy["_id"], "everyone").status_code == 200
    assert used() == 0
    assert api.get(copy["image"], carol).status_code == 404
    assert api.get(copy["attachments"][0]["thumbUrl"], bob).status_code == 404


def test_delete_needs_a_scope(api: ApiClient, pair: Any) -> None:
    alice, bob, _ = pair
    sent = _sent(api, alice, bob, "x")
    for scope in (None, "all", "", "ME"):
        body = _error(_delete(api, alice, sent["_id"], scope), 400, "validation_error")
        assert "for" in body["details"]
    assert _history(api, alice, bob)[0]["deletedAt"] is None


# --- delete for me -----------------------------------------------------------------------------------


def test_delete_for_me_hides_it_from_me_only(api: ApiClient, pair: Any) -> None:
    alice, bob, carol = pair
    first = _sent(api, alice, bob, "first words")
    last = _sent(api, alice, bob, "last words")
    assert _chat(api, bob, alice)["unreadCount"] == 2
    response = _delete(api, bob, last["_id"], "me")
    assert response.status_code == 200 and response.get_json() == {"deleted": "me"}
    assert [m["_id"] for m in _history(api, bob, alice)] == [first["_id"]]
    assert _search(api, bob, alice, "words") == [first["_id"]]
    bob_chat = _chat(api, bob, alice)
    assert bob_chat["unreadCount"] == 1 and bob_chat["lastMessage"]["_id"] == first["_id"]
    # Alice is unaffected.
    assert [m["_id"] for m in _history(api, alice, bob)] == [first["_id"], last["_id"]]
    assert _chat(api, alice, bob)["lastMessage"]["_id"] == last["_id"]
    # Again, and a tombstone: 200. Nobody else's message.
    assert _delete(api, bob, last["_id"], "me").status_code == 200
    _error(_delete(api, carol, first["_id"], "me"), 404, "message_not_found")
    # Hiding everything leaves no preview; a new message becomes the preview again.
    assert _delete(api, bob, first["_id"], "me").status_code == 200
    assert _chat(api, bob, alice)["lastMessage"] is None and _chat(api, bob, alice)["unreadCount"] == 0
    newest = _sent(api, alice, bob, "newest")
    assert _chat(api, bob, alice)["lastMessage"]["_id"] == newest["_id"]
    # Hidden messages cannot be edited, reacted to, quoted or forwarded by the one who hid them.
    _error(_react(api, bob, first["_id"], "👍"), 404, "message_not_found")
    _error(_forward(api, bob, first["_id"], to=[carol.id]), 404, "message_not_found")
    _error(api.send(bob, alice, "re", replyTo=first["_id"]), 400, "invalid_reply")


# --- reactions ---------------------------------------------------------------------------------------


def test_reactions_one_per_user_most_used_first(api: ApiClient, pair: Any) -> None:
    alice, bob, carol = pair
    sent = _sent(api, alice, bob, "news")
    first = _react(api, alice, sent["_id"], "❤️")
    assert first.status_code == 200
    assert first.get_json() == {
        "messageId": sent["_id"],
        "chatId": sent["chatId"],
        "reactions": [{"emoji": "❤️", "count": 1, "userIds": [alice.id]}],
    }
    _react(api, bob, sent["_id"], "👍")
    both = _react(api, bob, sent["_id"], "❤️").get_json()["reactions"]  # replaces Bob's 👍
    assert both == [{"emoji": "❤️", "count": 2, "userIds": [alice.id, bob.id]}]
    _react(api, alice, sent["_id"], "🇫🇷")
    mixed = _history(api, bob, alice)[0]["reactions"]
    assert mixed == [
        {"emoji": "❤️", "count": 1, "userIds": [bob.id]},
        {"emoji": "🇫🇷", "count": 1, "userIds": [alice.id]},
    ]
    removed = api.delete(f"/api/messages/{sent['_id']}/reactions", bob)
    assert removed.status_code == 200
    assert removed.get_json()["reactions"] == [{"emoji": "🇫🇷", "count": 1, "userIds": [alice.id]}]
    again = api.delete(f"/api/messages/{sent['_id']}/reactions", bob)
    assert again.status_code == 200 and again.get_json() == removed.get_json()
    _error(_react(api, carol, sent["_id"], "👍"), 404, "message_not_found")
    _error(api.delete(f"/api/messages/{sent['_id']}/reactions", carol), 404, "message_not_found")


@pytest.mark.parametrize("emoji", ["👍", "👍🏽", "🇫🇷", "1️⃣", "#⃣", "❤️", "👨‍👩‍👧", "🏳️‍🌈", "©️"])
def test_reaction_emoji_accepted(api: ApiClient, pair: Any, emoji: str) -> None:
    alice, bob, _ = pair
    sent = _sent(api, alice, bob, "x")
    response = _react(api, bob, sent["_id"], emoji)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["reactions"][0]["emoji"] == emoji


@pytest.mark.parametrize("emoji", ["👍👍", "a", "", "ok", "🇫", "1", "👍 ", "x👍", "👨‍👩‍👧‍👦" + "\ufe0f" * 10])
def test_reaction_emoji_refused(api: ApiClient, pair: Any, emoji: str) -> None:
    alice, bob, _ = pair
    sent = _sent(api, alice, bob, "x")
    _error(_react(api, bob, sent["_id"], emoji), 400, "invalid_emoji")
    assert _history(api, bob, alice)[0]["reactions"] == []


def test_no_reaction_across_a_block_but_removing_mine_works(api: ApiClient, pair: Any) -> None:
    alice, bob, _ = pair
    sent = _sent(api, alice, bob, "x")
    _react(api, bob, sent["_id"], "👍")
    api.post(f"/api/users/block/{bob.id}", alice)
    _error(_react(api, bob, sent["_id"], "😡"), 403, "blocked")
    _error(_react(api, alice, sent["_id"], "😡"), 403, "blocked")
    assert api.delete(f"/api/messages/{sent['_id']}/reactions", bob).get_json()["reactions"] == []


# --- replies -----------------------------------------------------------------------------------------


def test_replies_quote_a_preview(api: ApiClient, pair: Any) -> None:
    alice, bob, _ = pair
    long_text = "é" * 150
    quoted = _sent(api, alice, bob, long_text)
    reply = _sent(api, bob, alice, "answer", replyTo=quoted["_id"])
    assert reply["replyTo"] == {
        "_id": quoted["_id"],
        "senderId": alice.id,
        "text": "é" * 100,
        "kind": "text",
        "deleted": False,
    }
    photo = _with_file(api, alice, bob, image=True)
    document = _with_file(api, alice, bob)
    form = {"text": "nice", "replyTo": photo["_id"]}
    by_form = api.post(f"/api/messages/send/{alice.id}", bob, data=form)
    assert by_form.status_code == 201 and by_form.get_json()["replyTo"]["kind"] == "image"
    assert _sent(api, bob, alice, "got it", replyTo=document["_id"])["replyTo"]["kind"] == "file"
    assert _history(api, alice, bob)[-1]["replyTo"]["_id"] == document["_id"]
    # Edits and deletion of the quoted message show in the preview.
    _edit(api, alice, quoted["_id"], "edited text")
    def preview_on(viewer: User, other: User) -> dict[str, Any]:
        return next(m for m in _history(api, viewer, other) if m["_id"] == reply["_id"])["replyTo"]

    assert preview_on(alice, bob)["text"] == "edited text"
    _delete(api, alice, quoted["_id"], "everyone")
    preview = preview_on(bob, alice)
    assert preview["deleted"] is True and preview["text"] == ""
    # A tombstone may still be quoted; it shows as deleted.
    assert _sent(api, bob, alice, "?", replyTo=quoted["_id"])["replyTo"]["deleted"] is True


def test_a_multi_image_reply_quotes_on_its_first_message(api: ApiClient, pair: Any) -> None:
    alice, bob, _ = pair
    quoted = _sent(api, alice, bob, "send photos?")
    form = {
        "text": "here",
        "replyTo": quoted["_id"],
        "images": [(io.BytesIO(PNG), "a.png"), (io.BytesIO(PNG), "b.png")],
    }
    response = api.post(f"/api/messages/send/{alice.id}", bob, data=form)
    assert response.status_code == 201
    first, second = response.get_json()
    assert first["replyTo"]["_id"] == quoted["_id"] and first["text"] == "here"
    assert second["replyTo"] is None


def test_invalid_replies(api: ApiClient, pair: Any) -> None:
    alice, bob, carol = pair
    elsewhere = _sent(api, alice, carol, "to carol")
    _sent(api, alice, bob, "hello")
    for bad in ("nope", "", "0123456789abcdef01234567", elsewhere["_id"]):
        _error(api.send(bob, alice, "re", replyTo=bad), 400, "invalid_reply")
    _error(api.send(bob, carol, "first message", replyTo=elsewhere["_id"]), 400, "invalid_reply")
    assert api.get("/api/messages/chats", bob).get_json()[0]["user"]["_id"] == alice.id
    assert len(api.get("/api/messages/chats", bob).get_json()) == 1


def test_a_retried_reply_gets_its_stored_message(api: ApiClient, pair: Any) -> None:
    alice, bob, _ = pair
    quoted = _sent(api, alice, bob, "question")
    reply = _sent(api, bob, alice, "answer", replyTo=quoted["_id"], clientMessageId="r-1")
    assert _delete(api, bob, quoted["_id"], "me").status_code == 200  # no longer quotable by Bob
    again = api.send(bob, alice, "answer", replyTo=quoted["_id"], clientMessageId="r-1")
    assert again.status_code == 200 and again.get_json()["_id"] == reply["_id"]


def test_clearing_for_good_marks_quotes_deleted(api: ApiClient, pair: Any) -> None:
    alice, bob, _ = pair
    quoted = _sent(api, alice, bob, "quoted")
    api.delete(f"/api/messages/chats/{bob.id}", alice)
    reply = _sent(api, bob, alice, "reply", replyTo=quoted["_id"])
    assert api.delete(f"/api/messages/chats/{alice.id}", bob).get_json()["deleted"] is True
    # Bob cleared up to his reply too; Alice (who cleared before it) still sees it.
    assert [m["_id"] for m in _history(api, alice, bob)] == [reply["_id"]]
    assert _history(api, alice, bob)[0]["replyTo"] == {**reply["replyTo"], "text": "", "deleted": True}


# --- forward -----------------------------------------------------------------------------------------


def test_forward_to_users_and_chats(api: ApiClient, pair: Any) -> None:
    alice, bob, carol = pair
    dave = api.signup("Dave")
    photo = _with_file(api, bob, alice, "look", image=True)
    with_dave = _sent(api, alice, dave, "hi dave")
    response = _forward(
        api, alice, photo["_id"], to=[carol.id, carol.id], chatIds=[with_dave["chatId"], photo["chatId"]]
    )
    assert response.status_code == 201, response.get_json()
    copies = response.get_json()
    assert [c["receiverId"] for c in copies] == [carol.id, dave.id, bob.id]
    for copy in copies:
        assert copy["forwarded"] is True and copy["senderId"] == alice.id and copy["text"] == "look"
        assert copy["attachments"] == photo["attachments"] and copy["image"] == photo["image"]
        assert copy["replyTo"] is None and copy["reactions"] == []
    # Carol never saw the photo's chat: she may read the shared file now.
    assert api.get(photo["image"], carol).status_code == 200
    assert _chat(api, carol, alice)["lastMessage"]["forwarded"] is True
    assert _history(api, dave, alice)[-1]["_id"] == copies[1]["_id"]


def test_forward_checks_every_target_first(app: Any, api: ApiClient, pair: Any) -> None:
    alice, bob, carol = pair
    dave, erin = api.signup("Dave"), api.signup("Erin")
    sent = _sent(api, alice, bob, "pass it on")
    api.post(f"/api/users/block/{alice.id}", dave)
    assert app.test_cli_runner().invoke(args=["users", "deactivate", erin.email]).exit_code == 0
    unknown = "0123456789abcdef01234567"
    response = _forward(api, alice, sent["_id"], to=[carol.id, dave.id, erin.id], chatIds=[unknown])
    body = _error(response, 403, "blocked")
    assert body["details"] == {"targets": {dave.id: "blocked", erin.id: "user_not_found", unknown: "chat_not_found"}}
    assert api.get("/api/messages/chats", carol).get_json() == []
    body = _error(_forward(api, alice, sent["_id"], to=[alice.id, carol.id]), 400, "self_not_allowed")
    assert body["details"] == {"targets": {alice.id: "self_not_allowed"}}
    # Someone else's chat id is no target of mine.
    not_mine = _sent(api, carol, bob, "x")["chatId"]
    _error(_forward(api, alice, sent["_id"], chatIds=[not_mine]), 404, "chat_not_found")
    for body in ({}, {"to": []}, {"to": [api.signup(f"U{i}").id for i in range(6)]}):
        _error(_forward(api, alice, sent["_id"], **body), 400, "validation_error")
    _error(_forward(api, alice, sent["_id"], to=["not-an-id"]), 400, "validation_error")
    assert [c["user"]["_id"] for c in api.get("/api/messages/chats", carol).get_json()] == [bob.id]


def test_forward_counts_duplicates_once(api: ApiClient, pair: Any) -> None:
    alice, bob, carol = pair
    sent = _sent(api, alice, bob, "x")
    others = [api.signup(f"Friend {i}") for i in range(4)]
    response = _forward(api, alice, sent["_id"], to=[carol.id, *[o.id for o in others], carol.id])
    assert response.status_code == 201 and len(response.get_json()) == 5
    # Bob by id and his chat by id are one target.
    both = _forward(api, alice, sent["_id"], to=[bob.id], chatIds=[sent["chatId"]])
    assert both.status_code == 201 and len(both.get_json()) == 1


def test_a_user_and_their_chat_count_as_one_of_the_five_targets(api: ApiClient, pair: Any) -> None:
    alice, bob, carol = pair
    sent = _sent(api, alice, bob, "x")
    others = [api.signup(f"Friend {i}") for i in range(4)]
    with_carol = _sent(api, alice, carol, "hi")["chatId"]
    # Five distinct targets named six times (Bob by id and by his chat): five copies.
    people = [bob.id, *[o.id for o in others[:3]], carol.id]
    five = _forward(api, alice, sent["_id"], to=people, chatIds=[sent["chatId"]])
    assert five.status_code == 201, five.get_json()
    assert [m["receiverId"] for m in five.get_json()] == people
    # Six distinct targets stay refused, and nothing is sent.
    before = len(_history(api, alice, carol))
    six = _forward(api, alice, sent["_id"], to=[bob.id, *[o.id for o in others]], chatIds=[with_carol])
    _error(six, 400, "validation_error")
    assert len(_history(api, alice, carol)) == before
    # Naming more than twice the limit is refused before any target is looked at.
    many = _forward(api, alice, sent["_id"], to=[f"{i:024x}" for i in range(11)])
    _error(many, 400, "validation_error")


def test_forward_rules_for_the_original(api: ApiClient, pair: Any) -> None:
    alice, bob, carol = pair
    sent = _sent(api, alice, bob, "x")
    _error(_forward(api, carol, sent["_id"], to=[alice.id]), 404, "message_not_found")
    _delete(api, alice, sent["_id"], "everyone")
    _error(_forward(api, bob, sent["_id"], to=[carol.id]), 409, "message_deleted")


def test_forward_into_a_blocked_chat_is_refused_but_out_of_it_allowed(api: ApiClient, pair: Any) -> None:
    alice, bob, carol = pair
    sent = _sent(api, bob, alice, "from bob")
    api.post(f"/api/users/block/{bob.id}", alice)
    body = _error(_forward(api, alice, sent["_id"], chatIds=[sent["chatId"]]), 403, "blocked")
    assert body["details"] == {"targets": {sent["chatId"]: "blocked"}}
    out = _forward(api, alice, sent["_id"], to=[carol.id])
    assert out.status_code == 201 and out.get_json()[0]["text"] == "from bob"


def test_lifecycle_changes_never_push(app: Any, api: ApiClient, pair: Any) -> None:
    from tests.test_push import recording, register, settle

    alice, bob, _ = pair
    register(api, bob, "bob-phone")
    sender = recording(app)
    sent = _sent(api, alice, bob, "hello")
    settle(app)
    assert len(sender.sent) == 1
    _edit(api, alice, sent["_id"], "hello!")
    _react(api, alice, sent["_id"], "👍")
    api.delete(f"/api/messages/{sent['_id']}/reactions", alice)
    assert _delete(api, alice, sent["_id"], "everyone").status_code == 200
    assert _delete(api, alice, sent["_id"], "me").status_code == 200
    settle(app)
    assert len(sender.sent) == 1
