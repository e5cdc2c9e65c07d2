from __future__ import annotations

import io
from typing import Any

import pytest

from tests.support.api import ApiClient, User
from tests.support.files import DOCX, ELF, JPG, OLE, PDF, PNG, XLSX, ZIP
from tests.support.storage import NOTHING, blob_names, stored_counts


@pytest.fixture(params=["gridfs", "disk"])
def storage_backend(request: pytest.FixtureRequest) -> str:
    """The whole suite runs on both storage backends."""
    return str(request.param)


def _chats(api: ApiClient, user: User, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/api/messages/chats", user, query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _history(api: ApiClient, user: User, other: User, **params: Any) -> Any:
    response = api.get(f"/api/messages/{other.id}", user, query_string=params)
    assert response.status_code == 200, response.get_json()
    return response


def test_send_text_returns_the_message_and_creates_one_chat(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    response = api.send(alice, bob, "  hello bob  ")
    assert response.status_code == 201
    message = response.get_json()
    assert message["text"] == "hello bob"
    assert message["senderId"] == alice.id and message["receiverId"] == bob.id
    assert message["status"] == "sent" and message["deliveredAt"] is None and message["readAt"] is None
    assert message["image"] is None and message["file"] is None and message["attachments"] == []
    assert message["createdAt"].endswith("Z")
    api.send(bob, alice, "hi alice")
    chats_a, chats_b = _chats(api, alice), _chats(api, bob)
    assert len(chats_a) == len(chats_b) == 1
    assert chats_a[0]["_id"] == chats_b[0]["_id"] == message["chatId"]
    assert chats_a[0]["user"]["_id"] == bob.id and chats_a[0]["lastMessage"]["text"] == "hi alice"
    assert "passwordHash" not in str(chats_a)


def test_send_rules(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    assert api.send(alice, alice, "me").status_code == 400
    assert api.post("/api/messages/send/000000000000000000000000", alice, json={"text": "x"}).status_code == 404
    assert api.post("/api/messages/send/not-an-id", alice, json={"text": "x"}).status_code == 404
    assert api.send(alice, bob, "   ").status_code == 400
    assert api.send(alice, bob, "x" * 5001).status_code == 400
    assert api.send(alice, bob, "x" * 5000).status_code == 201
    assert api.post(f"/api/messages/send/{bob.id}", alice, json={"text": {"$gt": ""}}).status_code == 400
    assert (
        api.post(f"/api/messages/send/{bob.id}", alice, json={"text": "x", "clientMessageId": "y" * 65}).status_code
        == 400
    )


def test_send_to_deactivated_user_is_404(app: Any, api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    assert app.test_cli_runner().invoke(args=["users", "deactivate", bob.email]).exit_code == 0
    assert api.send(alice, bob, "hello").status_code == 404


def test_client_message_id_makes_send_idempotent(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    first = api.send(alice, bob, "once", clientMessageId="c-1")
    again = api.send(alice, bob, "once", clientMessageId="c-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json()["_id"] == first.get_json()["_id"]
    assert again.get_json()["clientMessageId"] == "c-1"
    assert len(_history(api, bob, alice).get_json()) == 1
    assert _chats(api, bob)[0]["unreadCount"] == 1
    # The same id from another sender is a different message.
    assert api.send(bob, alice, "mine", clientMessageId="c-1").status_code == 201
    # Reusing the id towards someone else is no retry: 409, and nothing is stored or opened.
    carol = api.signup("Carol")
    for text in ("once", ""):
        elsewhere = api.send(alice, carol, text, clientMessageId="c-1")
        assert elsewhere.status_code == 409 and elsewhere.get_json()["code"] == "client_message_id_reused"
    assert _chats(api, carol) == [] and [c["user"]["_id"] for c in _chats(api, alice)] == [bob.id]
    # A retry that would now be refused (unknown receiver aside) still gets its message.
    assert api.send(alice, bob, "x" * 6000, clientMessageId="c-1").status_code == 200
    # Ids that merely share a prefix are different sends.
    assert api.send(alice, bob, "other", clientMessageId="c-1#1").status_code == 201
    assert api.send(alice, bob, "once", clientMessageId="c-1").get_json()["_id"] == first.get_json()["_id"]


def test_unread_counts_go_up_on_send_and_down_on_read(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    ids = [api.send(alice, bob, f"m{i}").get_json()["_id"] for i in range(3)]
    assert _chats(api, bob)[0]["unreadCount"] == 3
    assert _chats(api, alice)[0]["unreadCount"] == 0
    # Only the receiver may mark read.
    assert api.put(f"/api/messages/read/{ids[1]}", alice).status_code == 403
    response = api.put(f"/api/messages/read/{ids[1]}", bob)
    assert response.status_code == 200 and response.get_json() == {"updated": 2}
    assert _chats(api, bob)[0]["unreadCount"] == 1
    statuses = [m["status"] for m in _history(api, alice, bob).get_json()]
    assert statuses == ["read", "read", "sent"]
    assert api.put(f"/api/messages/read/{ids[1]}", bob).get_json() == {"updated": 0}
    assert api.put(f"/api/messages/read/{ids[2]}", bob).get_json() == {"updated": 1}
    assert _chats(api, bob)[0]["unreadCount"] == 0
    read = _history(api, alice, bob).get_json()[-1]
    assert read["readAt"] and read["deliveredAt"]


def test_read_of_unknown_or_foreign_message(api: ApiClient) -> None:
    alice, bob, eve = api.signup("Alice"), api.signup("Bob"), api.signup("Eve")
    message_id = api.send(alice, bob, "private").get_json()["_id"]
    assert api.put("/api/messages/read/not-an-id", bob).status_code == 404
    assert api.put("/api/messages/read/000000000000000000000000", bob).status_code == 404
    foreign = api.put(f"/api/messages/read/{message_id}", eve)
    assert foreign.status_code == 404 and "private" not in foreign.get_data(as_text=True)


def test_chat_order_newest_first_and_pinned_first(api: ApiClient) -> None:
    me = api.signup("Me")
    friends = [api.signup(f"Friend {i}") for i in range(3)]
    for friend in friends:
        api.send(friend, me, f"hello from {friend.full_name}")
    assert [c["user"]["_id"] for c in _chats(api, me)] == [f.id for f in reversed(friends)]
    api.send(friends[0], me, "again")
    assert [c["user"]["_id"] for c in _chats(api, me)] == [friends[0].id, friends[2].id, friends[1].id]
    pinned = api.post(f"/api/users/pin/{friends[1].id}", me)
    assert pinned.status_code == 200 and pinned.get_json() == {"pinnedChats": [friends[1].id]}
    chats = _chats(api, me)
    assert [c["user"]["_id"] for c in chats] == [friends[1].id, friends[0].id, friends[2].id]
    assert [c["isPinned"] for c in chats] == [True, False, False]
    # Paging keeps the same order with pinned chats first.
    first = api.get("/api/messages/chats", me, query_string={"limit": 1})
    seen = [c["user"]["_id"] for c in first.get_json()]
    cursor = first.headers.get("X-Next-Cursor")
    while cursor:
        page = api.get("/api/messages/chats", me, query_string={"limit": 1, "cursor": cursor})
        seen += [c["user"]["_id"] for c in page.get_json()]
        cursor = page.headers.get("X-Next-Cursor")
    assert seen == [friends[1].id, friends[0].id, friends[2].id]
    assert [c["user"]["_id"] for c in _chats(api, me, q="friend 2")] == [friends[2].id]
    assert _chats(api, me, q=".*") == []


def test_history_pages_back_without_repeats_or_gaps_while_messages_arrive(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    sent = [api.send(alice, bob, f"m{i}").get_json()["_id"] for i in range(25)]
    first = _history(api, bob, alice, limit=10)
    page = first.get_json()
    assert [m["_id"] for m in page] == sent[15:]
    collected = [m["_id"] for m in page]
    cursor = first.headers["X-Next-Cursor"]
    new_ones = []
    while cursor:
        new_ones.append(api.send(bob, alice, "meanwhile").get_json()["_id"])
        response = _history(api, bob, alice, limit=10, cursor=cursor)
        collected = [m["_id"] for m in response.get_json()] + collected
        cursor = response.headers.get("X-Next-Cursor")
    assert collected == sent
    assert not set(new_ones) & set(collected)
    assert api.get(f"/api/messages/{alice.id}", bob, query_string={"cursor": "garbage!"}).status_code == 400
    assert api.get(f"/api/messages/{alice.id}", bob, query_string={"limit": 101}).status_code == 400
    assert api.get(f"/api/messages/{alice.id}", bob, query_string={"limit": 0}).status_code == 400


def test_next_cursor_header_is_exposed_to_browsers(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    for i in range(3):
        api.send(alice, bob, f"m{i}")
    response = api.get(
        f"/api/messages/{alice.id}", bob, query_string={"limit": 2}, headers={"Origin": "http://localhost:5173"}
    )
    assert response.headers["X-Next-Cursor"]
    assert "X-Next-Cursor" in response.headers["Access-Control-Expose-Headers"]


def test_non_participant_sees_nothing_of_a_pair(api: ApiClient) -> None:
    alice, bob, eve = api.signup("Alice"), api.signup("Bob"), api.signup("Eve")
    api.send(alice, bob, "secret words")
    # Eve's "chat with Alice" is her own (empty) chat, never Alice and Bob's.
    for path in (f"/api/messages/{alice.id}", f"/api/messages/{bob.id}", f"/api/messages/search/{alice.id}?q=secret"):
        response = api.get(path, eve)
        assert response.status_code == 200 and response.get_json() == []
    assert _chats(api, eve) == []


def test_search_is_literal_and_case_insensitive(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    api.send(alice, bob, "Hello World")
    api.send(alice, bob, "a.b.c (a+)+$ literal")
    api.send(bob, alice, "hello again")
    api.send(alice, bob, "nothing here")

    def search(q: str) -> list[str]:
        response = api.get(f"/api/messages/search/{bob.id}", alice, query_string={"q": q})
        assert response.status_code == 200, response.get_json()
        return [m["text"] for m in response.get_json()]

    assert search("HELLO") == ["hello again", "Hello World"]
    assert search(".*") == []
    assert search("(a+)+$") == ["a.b.c (a+)+$ literal"]
    assert search("a.b") == ["a.b.c (a+)+$ literal"]
    assert api.get(f"/api/messages/search/{bob.id}", alice, query_string={"q": "x" * 101}).status_code == 400
    assert api.get(f"/api/messages/search/{bob.id}", alice).status_code == 400


def test_search_paginates_newest_first(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    ids = [api.send(alice, bob, f"needle {i}").get_json()["_id"] for i in range(5)]
    first = api.get(f"/api/messages/search/{bob.id}", alice, query_string={"q": "needle", "limit": 3})
    second = api.get(
        f"/api/messages/search/{bob.id}",
        alice,
        query_string={"q": "needle", "limit": 3, "cursor": first.headers["X-Next-Cursor"]},
    )
    assert [m["_id"] for m in first.get_json() + second.get_json()] == list(reversed(ids))
    assert "X-Next-Cursor" not in second.headers


def test_clear_chat_hides_history_for_one_side_then_deletes_for_good(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    api.send(alice, bob, "one")
    api.send(bob, alice, "two")
    response = api.delete(f"/api/messages/chats/{bob.id}", alice)
    assert response.status_code == 200 and response.get_json() == {"cleared": True, "deleted": False}
    assert _history(api, alice, bob).get_json() == []
    assert [m["text"] for m in _history(api, bob, alice).get_json()] == ["one", "two"]
    assert _chats(api, alice)[0]["lastMessage"] is None
    api.send(bob, alice, "three")
    assert [m["text"] for m in _history(api, alice, bob).get_json()] == ["three"]
    assert _chats(api, alice)[0]["unreadCount"] == 1
    response = api.delete(f"/api/messages/chats/{alice.id}", bob)
    assert response.get_json() == {"cleared": True, "deleted": True}
    # Bob cleared everything, Alice only up to "two": "three" is still Alice's to see.
    assert [m["text"] for m in _history(api, alice, bob).get_json()] == ["three"]
    assert _history(api, bob, alice).get_json() == []
    assert api.delete(f"/api/messages/chats/{bob.id}", alice).get_json() == {"cleared": True, "deleted": True}
    assert _history(api, alice, bob).get_json() == []
    assert api.delete("/api/messages/chats/000000000000000000000000", alice).status_code == 404


def test_contacts_paginated_and_filtered(api: ApiClient) -> None:
    me = api.signup("Zed")
    others = [api.signup(f"Contact {chr(65 + i)}") for i in range(5)]
    first = api.get("/api/messages/contacts", me, query_string={"limit": 2, "q": "contact"})
    names = [u["fullName"] for u in first.get_json()]
    cursor = first.headers.get("X-Next-Cursor")
    while cursor:
        page = api.get("/api/messages/contacts", me, query_string={"limit": 2, "q": "contact", "cursor": cursor})
        names += [u["fullName"] for u in page.get_json()]
        cursor = page.headers.get("X-Next-Cursor")
    assert names == [o.full_name for o in others]
    by_email = api.get("/api/messages/contacts", me, query_string={"q": others[3].email.upper()}).get_json()
    assert [u["_id"] for u in by_email] == [others[3].id]
    assert api.get("/api/messages/contacts", me, query_string={"q": ".*"}).get_json() == []
    everyone = api.get("/api/messages/contacts", me).get_json()
    assert me.id not in [u["_id"] for u in everyone]


def test_blocked_either_way_is_403_and_sends_nothing(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    api.send(alice, bob, "before")
    assert api.post(f"/api/users/block/{bob.id}", alice).get_json() == {"blockedUsers": [bob.id]}
    for sender, receiver in ((alice, bob), (bob, alice)):
        response = api.send(sender, receiver, "blocked?")
        assert response.status_code == 403 and response.get_json()["code"] == "blocked"
    assert [m["text"] for m in _history(api, bob, alice).get_json()] == ["before"]
    chat_a, chat_b = _chats(api, alice)[0], _chats(api, bob)[0]
    assert chat_a["blockedByMe"] and not chat_a["blockedByOtherUser"]
    assert chat_b["blockedByOtherUser"] and not chat_b["blockedByMe"]
    assert api.post(f"/api/users/unblock/{bob.id}", alice).get_json() == {"blockedUsers": []}
    assert api.send(bob, alice, "after").status_code == 201


def test_several_images_give_one_message_each_with_text_on_the_first(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    response = api.post(
        f"/api/messages/send/{bob.id}",
        alice,
        data={
            "text": "holiday",
            "clientMessageId": "batch-1",
            "images": [(io.BytesIO(PNG), "a.png"), (io.BytesIO(JPG), "b.jpg")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    messages = response.get_json()
    assert isinstance(messages, list) and len(messages) == 2
    assert [m["text"] for m in messages] == ["holiday", ""]
    assert [m["clientMessageId"] for m in messages] == ["batch-1", None]
    assert all(m["image"] and m["file"] is None for m in messages)
    assert messages[0]["attachments"][0]["mimeType"] == "image/png"
    assert messages[1]["attachments"][0]["name"] == "b.jpg"
    picture = api.get(messages[0]["image"], bob)
    assert picture.status_code == 200 and picture.data == PNG
    retry = api.post(
        f"/api/messages/send/{bob.id}",
        alice,
        data={"text": "holiday", "clientMessageId": "batch-1", "images": [(io.BytesIO(PNG), "a.png")]},
        content_type="multipart/form-data",
    )
    assert retry.status_code == 200 and [m["_id"] for m in retry.get_json()] == [m["_id"] for m in messages]
    assert _chats(api, bob)[0]["unreadCount"] == 2


def test_every_allowed_file_type(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    samples = {
        "report.pdf": PDF,
        "notes.txt": "héllo\n".encode(),
        "table.csv": b"a,b\n1,2\n",
        "archive.zip": ZIP,
        "letter.docx": DOCX,
        "sheet.xlsx": XLSX,
        "old.doc": OLE,
        "old.xls": OLE,
    }
    for name, content in samples.items():
        response = api.post(
            f"/api/messages/send/{bob.id}",
            alice,
            data={"file": (io.BytesIO(content), name)},
            content_type="multipart/form-data",
        )
        assert response.status_code == 201, (name, response.get_json())
        message = response.get_json()
        assert message["file"] and message["image"] is None and message["text"] == ""
        attachment = message["attachments"][0]
        assert attachment["kind"] == "file" and attachment["name"] == name and attachment["size"] == len(content)
        download = api.get(message["file"], bob)
        assert download.status_code == 200 and download.data == content
        assert "attachment" in download.headers["Content-Disposition"]


def test_impostor_files_are_415_and_nothing_is_stored(app: Any, api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    impostors = [
        ("images", "photo.png", ZIP),
        ("images", "photo.png", ELF),
        ("file", "photo.png", ELF),
        ("file", "tool.exe", ELF),
        ("file", "notes.txt", ELF),
        ("file", "doc.pdf", PNG),
        ("file", "letter.docx", ZIP),
        ("images", "doc.pdf", PDF),
        ("file", "noext", PDF),
    ]
    for field, name, content in impostors:
        response = api.post(
            f"/api/messages/send/{bob.id}",
            alice,
            data={"text": "look", field: (io.BytesIO(content), name)},
            content_type="multipart/form-data",
        )
        assert response.status_code == 415, (field, name, response.get_json())
        assert response.get_json()["code"] == "unsupported_file_type"
    assert _history(api, bob, alice).get_json() == []
    assert stored_counts(app) == NOTHING


def test_a_bad_second_image_stores_nothing_of_the_first(app: Any, api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    response = api.post(
        f"/api/messages/send/{bob.id}",
        alice,
        data={"images": [(io.BytesIO(PNG), "ok.png"), (io.BytesIO(ELF), "bad.png")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 415
    assert stored_counts(app) == NOTHING
    assert _history(api, bob, alice).get_json() == []


def test_upload_over_the_limit_is_413(app: Any, api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    big = PDF + b"0" * (26 * 1024 * 1024)
    response = api.post(
        f"/api/messages/send/{bob.id}",
        alice,
        data={"file": (io.BytesIO(big), "big.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413 and response.get_json()["code"] == "file_too_large"
    assert _history(api, bob, alice).get_json() == []
    assert stored_counts(app) == NOTHING


def test_client_file_name_is_only_metadata(app: Any, api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    response = api.post(
        f"/api/messages/send/{bob.id}",
        alice,
        data={"file": (io.BytesIO(b"root:x:0:0\n"), "../../etc/passwd.txt")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201
    assert response.get_json()["attachments"][0]["name"] == "passwd.txt"
    stored = blob_names(app)
    assert len(stored) == 1 and stored[0].endswith(".txt") and "passwd" not in stored[0]


def test_files_are_readable_only_by_the_pair(api: ApiClient) -> None:
    alice, bob, eve = api.signup("Alice"), api.signup("Bob"), api.signup("Eve")
    message = api.post(
        f"/api/messages/send/{bob.id}",
        alice,
        data={"file": (io.BytesIO(PDF), "secret.pdf")},
        content_type="multipart/form-data",
    ).get_json()
    assert api.get(message["file"], alice).status_code == 200
    assert api.get(message["file"], bob).status_code == 200
    denied = api.get(message["file"], eve)
    assert denied.status_code == 403 and denied.data != PDF
    assert api.get(message["file"]).status_code == 401
    assert api.get("/api/files/not-an-id", alice).status_code == 404
    assert api.get("/api/files/000000000000000000000000", alice).status_code == 404


def test_clearing_for_good_removes_attachments_from_storage(app: Any, api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    message = api.post(
        f"/api/messages/send/{bob.id}",
        alice,
        data={"images": [(io.BytesIO(PNG), "a.png")]},
        content_type="multipart/form-data",
    ).get_json()
    assert len(blob_names(app)) == 2  # the image and its thumbnail
    api.delete(f"/api/messages/chats/{bob.id}", alice)
    assert len(blob_names(app)) == 2
    assert api.delete(f"/api/messages/chats/{alice.id}", bob).get_json()["deleted"] is True
    assert stored_counts(app) == NOTHING
    assert api.get(message["image"], alice).status_code == 404
    assert api.get(message["attachments"][0]["thumbUrl"], alice).status_code == 404


def test_crafted_cursors_are_400_not_500(api: ApiClient) -> None:
    from chatbox.pagination import encode_cursor

    me, other = api.signup("Me"), api.signup("Other")
    api.send(other, me, "hi")
    crafted = {
        "/api/messages/contacts": [{"n": "A", "i": "zz"}, {"n": "A"}, ["not", "a", "dict"], {"n": None, "i": "0" * 24}],
        "/api/messages/chats": [
            {"p": 1, "t": "2020-01-01T00:00:00.000000Z", "i": "zz"},
            {"p": 7},
            {"p": 0, "t": "x"},
            {"p": True, "t": "2020-01-01T00:00:00.000Z", "i": "0" * 24},
        ],
        f"/api/messages/{other.id}": [{"before": "zz"}, {"before": 5}],
    }
    for path, positions in crafted.items():
        for position in positions:
            response = api.get(path, me, query_string={"cursor": encode_cursor(position)})  # type: ignore[arg-type]
            assert response.status_code == 400, (path, position, response.get_json())
            assert response.get_json()["code"] == "invalid_cursor"


def test_unstorable_text_is_400_not_500(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    for body in ('{"text": "\\ud800"}', '{"text": "ok", "clientMessageId": "\\udfff"}', '{"text": "a\\u0000b"}'):
        response = api.post(f"/api/messages/send/{bob.id}", alice, data=body, content_type="application/json")
        assert response.status_code == 400 and response.get_json()["code"] == "validation_error", body
    signup = api.post(
        "/api/auth/signup",
        data='{"fullName": "\\ud800", "email": "s@example.com", "password": "long enough"}',
        content_type="application/json",
    )
    assert signup.status_code == 400 and "fullName" in signup.get_json()["details"]
    assert _history(api, bob, alice).get_json() == [] and _chats(api, bob) == []


def test_multipart_validation_details_name_the_fields(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    response = api.post(
        f"/api/messages/send/{bob.id}",
        alice,
        data={"text": "x", "clientMessageId": "y" * 65},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and set(response.get_json()["details"]) == {"clientMessageId"}


def test_a_second_file_part_is_refused(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    response = api.post(
        f"/api/messages/send/{bob.id}",
        alice,
        data={"file": [(io.BytesIO(PDF), "a.pdf"), (io.BytesIO(PDF), "b.pdf")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and "file" in response.get_json()["details"]
    assert _history(api, bob, alice).get_json() == []


def test_very_long_text_gets_the_same_answer_as_long_text(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    for size in (5001, 30000):
        response = api.send(alice, bob, "x" * size)
        assert response.status_code == 400 and response.get_json()["code"] == "text_too_long", size


def test_admin_blocked_users_are_not_contacts_and_cannot_be_messaged(app: Any, api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    assert app.test_cli_runner().invoke(args=["users", "block", bob.email]).exit_code == 0
    assert bob.id not in [u["_id"] for u in api.get("/api/messages/contacts", alice).get_json()]
    assert api.send(alice, bob, "hello?").status_code == 404


def test_a_retry_gets_its_message_even_after_a_block(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    first = api.send(alice, bob, "sent before the block", clientMessageId="r-1").get_json()
    api.post(f"/api/users/block/{alice.id}", bob)
    retry = api.send(alice, bob, "sent before the block", clientMessageId="r-1")
    assert retry.status_code == 200 and retry.get_json()["_id"] == first["_id"]
    assert api.send(alice, bob, "new one", clientMessageId="r-2").status_code == 403
    assert api.send(alice, bob, "   ", clientMessageId="r-1").status_code == 200


def test_a_chat_without_messages_is_not_listed_and_its_first_message_announces_it(app: Any, api: ApiClient) -> None:
    from chatbox.messages.actions.send import get_or_create_chat
    from chatbox.models import User as UserDoc

    alice, bob = api.signup("Alice"), api.signup("Bob")
    # What a first send that failed after creating the chat leaves behind.
    get_or_create_chat(UserDoc.objects.get(id=alice.id), UserDoc.objects.get(id=bob.id))
    assert _chats(api, alice) == [] and _chats(api, bob) == []

    def announced(user: Any) -> list[str]:
        return [e["event"] for e in api.get("/api/sync", user).get_json()["events"]]

    api.send(alice, bob, "now for real")
    assert announced(alice) == ["new-chat", "new-message"] and announced(bob) == ["new-chat", "new-message"]
    assert [c["lastMessage"]["text"] for c in _chats(api, bob)] == ["now for real"]
    api.send(bob, alice, "reply")
    assert announced(alice)[2:] == ["new-message"] and announced(bob)[2:] == ["new-message"]


def test_unread_count_stays_exact_through_clear_and_reads(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    ids = [api.send(alice, bob, f"m{i}").get_json()["_id"] for i in range(3)]
    api.put(f"/api/messages/read/{ids[0]}", bob)
    assert _chats(api, bob)[0]["unreadCount"] == 2
    api.delete(f"/api/messages/chats/{alice.id}", bob)
    assert _chats(api, bob)[0]["unreadCount"] == 0
    # A hidden message cannot be read back into the count.
    assert api.put(f"/api/messages/read/{ids[2]}", bob).get_json() == {"updated": 0}
    newer = [api.send(alice, bob, f"n{i}").get_json()["_id"] for i in range(2)]
    assert _chats(api, bob)[0]["unreadCount"] == 2
    assert api.put(f"/api/messages/read/{newer[1]}", bob).get_json() == {"updated": 2}
    assert _chats(api, bob)[0]["unreadCount"] == 0


def test_a_retry_naming_the_receiver_in_upper_case_is_still_a_retry(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    first = api.send(alice, bob, "hi", clientMessageId="u-1").get_json()
    retry = api.post(f"/api/messages/send/{bob.id.upper()}", alice, json={"text": "hi", "clientMessageId": "u-1"})
    assert retry.status_code == 200 and retry.get_json()["_id"] == first["_id"]
