"""Group chats through the REST API: creation, members and roles, system messages, history bounds, read
watermarks and aggregate status, receipts, the chat list, clear, pin and mute, and the events each change
sends (recorded at the notifier: who gets what)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.api import ApiClient, User

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PNG_DATA_URL = "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()


@dataclass
class Recorder:
    """Stands in for the notifier: every event with the user it was addressed to."""

    sent: list[tuple[str, str, Any]] = field(default_factory=list)

    def to_user(self, user_id: Any, event: str, data: Any, skip_sid: str | None = None) -> None:
        self.sent.append((str(user_id), event, data))

    def to_users(self, items: list[Any]) -> list[int | None]:
        for item in items:
            self.to_user(item.user_id, item.event, item.data, item.skip_sid)
        return [None] * len(items)

    def ensure_deliverable(self) -> None:
        """The queue is up (the notifier's check before a change that must be announced)."""

    def of(self, event: str, user: User | None = None) -> list[Any]:
        return [d for u, e, d in self.sent if e == event and (user is None or u == user.id)]

    def users(self, event: str) -> set[str]:
        return {u for u, e, _ in self.sent if e == event}

    def clear(self) -> None:
        self.sent.clear()


@pytest.fixture
def events(app: Any) -> Recorder:
    recorder = Recorder()
    app.extensions["chatbox"].notifier = recorder
    return recorder


def create(api: ApiClient, owner: User, members: list[User], name: str = "Team", **extra: Any) -> dict[str, Any]:
    response = api.post("/api/chats", owner, json={"name": name, "memberIds": [m.id for m in members], **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def say(api: ApiClient, user: User, chat_id: str, text: str) -> dict[str, Any]:
    response = api.post(f"/api/chats/{chat_id}/messages", user, json={"text": text})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def history(api: ApiClient, user: User, chat_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/api/chats/{chat_id}/messages", user)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def chat_list(api: ApiClient, user: User, **query: Any) -> list[dict[str, Any]]:
    response = api.get("/api/messages/chats", user, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def item_of(api: ApiClient, user: User, chat_id: str) -> dict[str, Any]:
    return next(c for c in chat_list(api, user) if c["_id"] == chat_id)


@pytest.fixture
def trio(api: ApiClient) -> tuple[User, User, User]:
    return api.signup("Alice"), api.signup("Bob"), api.signup("Carol")


# --- creation -----------------------------------------------------------------------------------------


def test_create_gives_the_item_with_members_and_a_created_system_message(
    api: ApiClient, trio: tuple[User, User, User], events: Recorder
) -> None:
    alice, bob, carol = trio
    group = create(api, alice, [bob, carol, bob, alice], name="  Team  ")
    assert group["kind"] == "group" and group["name"] == "Team" and group["user"] is None
    assert group["memberCount"] == 3 and group["myRole"] == "owner" and group["avatar"] == ""
    assert group["unreadCount"] == 0 and group["isPinned"] is False
    assert group["isMuted"] is False and group["mutedUntil"] is None
    assert group["blockedByMe"] is False and group["blockedByOtherUser"] is False
    assert [(m["user"]["_id"], m["role"]) for m in group["members"]] == [
        (alice.id, "owner"),
        (bob.id, "member"),
        (carol.id, "member"),
    ]
    created = group["lastMessage"]
    assert created["system"] == {
        "type": "created",
        "actorId": alice.id,
        "userIds": [bob.id, carol.id],
        "name": "Team",
        "role": None,
    }
    assert created["senderId"] == alice.id and created["text"] == "" and created["receiverId"] is None
    # new-chat to every member (the creator's devices too), each before the created message
    for user in trio:
        mine = [e for u, e, _ in events.sent if u == user.id]
        assert mine[:2] == ["new-chat", "new-message"]
        assert events.of("new-chat", user)[0]["myRole"] == ("owner" if user is alice else "member")
    assert [m["_id"] for m in history(api, bob, group["_id"])] == [created["_id"]]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "   ", "memberIds": []}, "validation_error"),
        ({"name": "x" * 101, "memberIds": ["ffffffffffffffffffffffff"]}, "validation_error"),
        ({"name": "Team", "memberIds": ["nope"]}, "validation_error"),
        ({"name": "Team", "memberIds": "abc"}, "validation_error"),
        ({"name": "Team"}, "validation_error"),
    ],
)
def test_create_refuses_bad_input(api: ApiClient, body: dict[str, Any], code: str) -> None:
    alice = api.signup("Alice")
    response = api.post("/api/chats", alice, json=body)
    assert response.status_code == 400 and response.get_json()["code"] == code


def test_create_with_only_myself_is_refused(api: ApiClient) -> None:
    alice = api.signup("Alice")
    response = api.post("/api/chats", alice, json={"name": "Me", "memberIds": [alice.id]})
    assert response.status_code == 400 and response.get_json()["code"] == "validation_error"


def test_unknown_deactivated_and_blocked_members_are_named_and_nothing_is_created(app: Any, api: ApiClient) -> None:
    from chatbox.models import Chat
    from chatbox.models import User as UserDocument

    alice, bob, gone, blocker = (api.signup(n) for n in ("Alice", "Bob", "Gone", "Blocker"))
    UserDocument.objects(id=gone.id).update_one(set__is_active=False)
    unknown = "ffffffffffffffffffffffff"
    response = api.post("/api/chats", alice, json={"name": "T", "memberIds": [bob.id, gone.id, unknown]})
    assert response.status_code == 400
    assert response.get_json()["code"] == "user_not_found"
    assert sorted(response.get_json()["details"]["memberIds"]) == sorted([gone.id, unknown])
    assert api.post(f"/api/users/block/{alice.id}", blocker).status_code == 200
    response = api.post("/api/chats", alice, json={"name": "T", "memberIds": [bob.id, blocker.id]})
    assert response.status_code == 400
    assert response.get_json() == {
        "message": response.get_json()["message"],
        "code": "blocked",
        "details": {"memberIds": [blocker.id]},
    }
    assert api.post(f"/api/users/block/{bob.id}", alice).status_code == 200
    response = api.post("/api/chats", alice, json={"name": "T", "memberIds": [bob.id]})
    assert response.get_json()["code"] == "blocked"
    assert Chat.objects(kind="group").count() == 0


def test_group_full_at_max_group_members(app: Any, api: ApiClient) -> None:
    app.config["MAX_GROUP_MEMBERS"] = 3
    alice, bob, carol, dave = (api.signup(n) for n in ("Alice", "Bob", "Carol", "Dave"))
    response = api.post("/api/chats", alice, json={"name": "T", "memberIds": [bob.id, carol.id, dave.id]})
    assert response.status_code == 400 and response.get_json()["code"] == "group_full"
    group = create(api, alice, [bob, carol])
    response = api.post(f"/api/chats/{group['_id']}/members", alice, json={"userIds": [dave.id]})
    assert response.status_code == 400 and response.get_json()["code"] == "group_full"
    # already a member: ignored, not counted
    response = api.post(f"/api/chats/{group['_id']}/members", alice, json={"userIds": [bob.id]})
    assert response.status_code == 200 and response.get_json()["memberCount"] == 3


def test_avatar_on_create_and_patch(api: ApiClient, trio: tuple[User, User, User], events: Recorder) -> None:
    alice, bob, carol = trio
    group = create(api, alice, [bob], avatar=PNG_DATA_URL)
    assert group["avatar"].startswith("/api/files/")
    picture = api.get(group["avatar"], carol)  # an avatar, like a profile picture, is readable by anyone
    assert picture.status_code == 200 and picture.data == PNG_1PX
    events.clear()
    response = api.patch(f"/api/chats/{group['_id']}", alice, json={"avatar": ""})
    assert response.status_code == 200 and response.get_json()["avatar"] == ""
    assert api.get(group["avatar"], alice).status_code == 404  # the old picture is gone
    assert events.of("new-message", bob)[-1]["system"]["type"] == "avatar_changed"
    response = api.patch(f"/api/chats/{group['_id']}", alice, json={"avatar": "data:text/plain;base64,AAAA"})
    assert response.status_code == 415
    response = api.patch(f"/api/chats/{group['_id']}", alice, json={"avatar": "not a data url"})
    assert response.status_code == 400 and response.get_json()["code"] == "invalid_data_url"


# --- reading a chat by id -------------------------------------------------------------------------------


def test_get_chat_for_members_former_members_and_strangers(api: ApiClient, trio: tuple[User, User, User]) -> None:
    alice, bob, carol = trio
    group = create(api, alice, [bob])
    got = api.get(f"/api/chats/{group['_id']}", bob).get_json()
    assert got["myRole"] == "member" and len(got["members"]) == 2
    for chat_id in (group["_id"], "ffffffffffffffffffffffff", "nope"):
        response = api.get(f"/api/chats/{chat_id}", carol)
        assert response.status_code == 404 and response.get_json()["code"] == "chat_not_found"
    assert api.delete(f"/api/chats/{group['_id']}/members/{bob.id}", bob).get_json() == {"left": True}
    former = api.get(f"/api/chats/{group['_id']}", bob).get_json()
    assert former["myRole"] is None and [m["user"]["_id"] for m in former["members"]] == [alice.id]


def test_direct_chats_are_reachable_by_id(api: ApiClient, trio: tuple[User, User, User]) -> None:
    alice, bob, carol = trio
    first = api.send(alice, bob, "hi").get_json()
    chat_id = first["chatId"]
    got = api.get(f"/api/chats/{chat_id}", bob).get_json()
    assert got["kind"] == "direct" and got["user"]["_id"] == alice.id and "members" not in got
    assert got["isMuted"] is False and got["mutedUntil"] is None
    assert api.get(f"/api/chats/{chat_id}", carol).status_code == 404
    sent = api.post(f"/api/chats/{chat_id}/messages", bob, json={"text": "back"})
    assert sent.status_code == 201 and sent.get_json()["receiverId"] == alice.id
    assert [m["text"] for m in history(api, alice, chat_id)] == ["hi", "back"]
    assert [m["text"] for m in api.get(f"/api/chats/{chat_id}/search?q=BACK", alice).get_json()] == ["back"]
    assert api.put(f"/api/chats/{chat_id}/read", alice, json={"upTo": sent.get_json()["_id"]}).get_json() == {
        "updated": 1
    }
    assert api.get(f"/api/messages/{alice.id}", bob).get_json()[-1]["status"] == "read"
    for method, path, body in (
        ("PATCH", "", {"name": "x"}),
        ("POST", "/members", {"userIds": [carol.id]}),
        ("DELETE", f"/members/{alice.id}", None),
        ("PUT", f"/members/{alice.id}/role", {"role": "admin"}),
    ):
        response = api.request(method, f"/api/chats/{chat_id}{path}", bob, json=body)
        assert response.status_code == 400 and response.get_json()["code"] == "not_a_group", (method, path)
    receipts = api.get(f"/api/chats/{chat_id}/messages/{first['_id']}/receipts", alice).get_json()
    assert receipts == [{"userId": bob.id, "deliveredAt": None, "readAt": None}]
    response = api.get(f"/api/chats/{chat_id}/messages/{first['_id']}/receipts", bob)
    assert response.status_code == 403 and response.get_json()["code"] == "not_sender"
    assert api.delete(f"/api/chats/{chat_id}/messages", bob).get_json() == {"cleared": True, "deleted": False}
    assert history(api, bob, chat_id) == []


# --- managing ------------------------------------------------------------------------------------------


def test_rename_needs_owner_or_admin_and_records_it(
    api: ApiClient, trio: tuple[User, User, User], events: Recorder
) -> None:
    alice, bob, carol = trio
    group = create(api, alice, [bob, carol])
    gid = group["_id"]
    response = api.patch(f"/api/chats/{gid}", bob, json={"name": "Mine"})
    assert response.status_code == 403 and response.get_json()["code"] == "not_admin"
    assert api.patch(f"/api/chats/{gid}", alice, json={"name": ""}).status_code == 400
    assert api.patch(f"/api/chats/{gid}", alice, json={}).status_code == 400
    assert api.put(f"/api/chats/{gid}/members/{bob.id}/role", alice, json={"role": "admin"}).status_code == 200
    events.clear()
    renamed = api.patch(f"/api/chats/{gid}", bob, json={"name": "Renamed"})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Renamed"
    system = history(api, carol, gid)[-1]["system"]
    assert system["type"] == "renamed" and system["name"] == "Renamed" and system["actorId"] == bob.id
    assert events.users("chat-updated") == {alice.id, bob.id, carol.id}
    assert events.of("chat-updated", carol)[0]["name"] == "Renamed"
    assert events.users("new-message") == {alice.id, bob.id, carol.id}
    # the same name again changes nothing
    events.clear()
    assert api.patch(f"/api/chats/{gid}", bob, json={"name": "Renamed"}).status_code == 200
    assert events.sent == []


def test_add_members_and_history_from_join(api: ApiClient, trio: tuple[User, User, User], events: Recorder) -> None:
    alice, bob, carol = trio
    dave = api.signup("Dave")
    group = create(api, alice, [bob])
    gid = group["_id"]
    say(api, bob, gid, "before carol")
    response = api.post(f"/api/chats/{gid}/members", bob, json={"userIds": [carol.id]})
    assert response.status_code == 403 and response.get_json()["code"] == "not_admin"
    events.clear()
    added = api.post(f"/api/chats/{gid}/members", alice, json={"userIds": [carol.id, carol.id]})
    assert added.status_code == 200 and added.get_json()["memberCount"] == 3
    assert [m["user"]["_id"] for m in added.get_json()["members"]] == [alice.id, bob.id, carol.id]
    assert events.users("new-chat") == {carol.id}
    assert events.users("chat-updated") == {alice.id, bob.id}
    assert events.users("new-message") == {alice.id, bob.id, carol.id}
    carol_sees = history(api, carol, gid)
    assert [m["system"]["type"] for m in carol_sees] == ["member_added"]
    assert carol_sees[0]["system"]["userIds"] == [carol.id]
    say(api, carol, gid, "hello all")
    assert [m["text"] for m in history(api, carol, gid)] == ["", "hello all"]
    assert len(history(api, alice, gid)) == 4
    # all or nothing: one refused id refuses the whole request
    unknown = "ffffffffffffffffffffffff"
    response = api.post(f"/api/chats/{gid}/members", alice, json={"userIds": [dave.id, unknown]})
    assert response.status_code == 400 and response.get_json()["details"] == {"memberIds": [unknown]}
    assert api.get(f"/api/chats/{gid}", alice).get_json()["memberCount"] == 3


def test_remove_rules(api: ApiClient, trio: tuple[User, User, User]) -> None:
    alice, bob, carol = trio
    dave, erin = api.signup("Dave"), api.signup("Erin")
    gid = create(api, alice, [bob, carol, dave])["_id"]
    assert api.put(f"/api/chats/{gid}/members/{bob.id}/role", alice, json={"role": "admin"}).status_code == 200
    assert api.put(f"/api/chats/{gid}/members/{carol.id}/role", alice, json={"role": "admin"}).status_code == 200

    def remove(actor: User, target: User | str) -> Any:
        target_id = target if isinstance(target, str) else target.id
        return api.delete(f"/api/chats/{gid}/members/{target_id}", actor)

    assert remove(dave, bob).get_json()["code"] == "not_admin"
    assert remove(bob, alice).get_json()["code"] == "not_allowed"
    assert remove(bob, carol).get_json()["code"] == "not_allowed"
    for target in (erin, "ffffffffffffffffffffffff", "nope"):
        response = remove(alice, target)
        assert response.status_code == 404 and response.get_json()["code"] == "member_not_found"
    assert remove(bob, dave).get_json() == {"removed": True}
    assert remove(alice, dave).get_json()["code"] == "member_not_found"
    assert remove(alice, carol).get_json() == {"removed": True}
    last = history(api, alice, gid)[-1]["system"]
    assert last["type"] == "member_removed" and last["userIds"] == [carol.id] and last["actorId"] == alice.id


def test_roles(api: ApiClient, trio: tuple[User, User, User]) -> None:
    alice, bob, carol = trio
    gid = create(api, alice, [bob, carol])["_id"]
    path = f"/api/chats/{gid}/members/{carol.id}/role"
    assert api.put(path, bob, json={"role": "admin"}).get_json()["code"] == "not_owner"
    assert api.put(path, alice, json={"role": "owner"}).status_code == 400
    assert api.put(f"/api/chats/{gid}/members/{alice.id}/role", alice, json={"role": "admin"}).status_code == 403
    assert (
        api.put(f"/api/chats/{gid}/members/ffffffffffffffffffffffff/role", alice, json={"role": "admin"}).get_json()[
            "code"
        ]
        == "member_not_found"
    )
    promoted = api.put(path, alice, json={"role": "admin"}).get_json()
    assert {m["user"]["_id"]: m["role"] for m in promoted["members"]}[carol.id] == "admin"
    system = history(api, bob, gid)[-1]["system"]
    assert system["type"] == "role_changed" and system["userIds"] == [carol.id] and system["role"] == "admin"
    # an admin may not change roles
    assert api.put(f"/api/chats/{gid}/members/{bob.id}/role", carol, json={"role": "admin"}).status_code == 403


def test_owner_leaving_hands_over_to_the_longest_standing_admin_else_member(
    api: ApiClient, trio: tuple[User, User, User], events: Recorder
) -> None:
    alice, bob, carol = trio
    dave = api.signup("Dave")
    gid = create(api, alice, [bob, carol])["_id"]
    assert api.post(f"/api/chats/{gid}/members", alice, json={"userIds": [dave.id]}).status_code == 200
    assert api.put(f"/api/chats/{gid}/members/{dave.id}/role", alice, json={"role": "admin"}).status_code == 200
    events.clear()
    assert api.delete(f"/api/chats/{gid}/members/{alice.id}", alice).get_json() == {"left": True}
    got = api.get(f"/api/chats/{gid}", bob).get_json()
    assert {m["user"]["_id"]: m["role"] for m in got["members"]} == {
        bob.id: "member",
        carol.id: "member",
        dave.id: "owner",
    }
    types = [m["system"]["type"] for m in history(api, bob, gid)[-2:]]
    assert types == ["member_left", "owner_changed"]
    handed_over = history(api, bob, gid)[-1]
    assert handed_over["system"]["userIds"] == [dave.id] and handed_over["system"]["actorId"] == alice.id
    # the leaver sees their member_left message, then chat-removed; not the hand-over
    assert [e for u, e, _ in events.sent if u == alice.id] == ["new-message", "chat-removed"]
    assert events.of("chat-removed", alice) == [{"chatId": gid}]
    assert events.users("chat-updated") == {bob.id, carol.id, dave.id}
    # no admin left: the longest-standing member (bob, before carol by join order)
    assert api.delete(f"/api/chats/{gid}/members/{dave.id}", dave).status_code == 200
    roles = {m["user"]["_id"]: m["role"] for m in api.get(f"/api/chats/{gid}", carol).get_json()["members"]}
    assert roles == {bob.id: "owner", carol.id: "member"}


def test_former_member_is_read_only_until_they_clear(
    api: ApiClient, trio: tuple[User, User, User], events: Recorder
) -> None:
    alice, bob, carol = trio
    gid = create(api, alice, [bob, carol])["_id"]
    say(api, alice, gid, "while bob is here")
    assert api.delete(f"/api/chats/{gid}/members/{bob.id}", alice).get_json() == {"removed": True}
    say(api, alice, gid, "after bob left")
    seen = history(api, bob, gid)
    assert [m["text"] for m in seen][-2:] == ["while bob is here", ""]
    assert seen[-1]["system"]["type"] == "member_removed"
    item = item_of(api, bob, gid)
    assert item["myRole"] is None and item["lastMessage"]["_id"] == seen[-1]["_id"] and item["unreadCount"] == 1
    response = api.post(f"/api/chats/{gid}/messages", bob, json={"text": "let me back"})
    assert response.status_code == 403 and response.get_json()["code"] == "not_a_member"
    assert api.patch(f"/api/chats/{gid}", bob, json={"name": "x"}).get_json()["code"] == "not_a_member"
    assert api.get(f"/api/chats/{gid}/search?q=after", bob).get_json() == []
    assert [m["text"] for m in api.get(f"/api/chats/{gid}/search?q=bob", bob).get_json()] == ["while bob is here"]
    events.clear()
    assert api.delete(f"/api/chats/{gid}/messages", bob).get_json() == {"cleared": True, "deleted": False}
    assert events.of("chat-cleared", bob) == [{"chatId": gid}]
    assert all(c["_id"] != gid for c in chat_list(api, bob))
    assert api.get(f"/api/chats/{gid}", bob).status_code == 404
    # added again: history restarts at the new join
    assert api.post(f"/api/chats/{gid}/members", alice, json={"userIds": [bob.id]}).status_code == 200
    assert [m["system"]["type"] for m in history(api, bob, gid)] == ["member_added"]
    assert item_of(api, bob, gid)["myRole"] == "member"


def test_last_member_leaving_deletes_the_group_its_messages_and_files(
    app: Any, api: ApiClient, trio: tuple[User, User, User], events: Recorder
) -> None:
    import io

    from chatbox.models import Chat, Message, StoredFile

    alice, bob, _carol = trio
    gid = create(api, alice, [bob], avatar=PNG_DATA_URL)["_id"]
    upload = api.post(f"/api/chats/{gid}/messages", bob, data={"text": "", "file": (io.BytesIO(b"notes\n"), "n.txt")})
    assert upload.status_code == 201
    assert api.delete(f"/api/chats/{gid}/members/{bob.id}", bob).status_code == 200
    events.clear()
    assert api.delete(f"/api/chats/{gid}/members/{alice.id}", alice).get_json() == {"left": True}
    assert Chat.objects(id=gid).count() == 0 and Message.objects(chat_id=gid).count() == 0
    assert StoredFile.objects.count() == 0
    assert events.users("chat-removed") == {alice.id, bob.id}
    assert api.get(f"/api/chats/{gid}", bob).status_code == 404
    assert all(c["_id"] != gid for c in chat_list(api, bob))


# --- messages, read state, receipts -------------------------------------------------------------------


def test_group_send_reaches_every_member_and_pushes_only_to_offline_unmuted(
    app: Any, api: ApiClient, trio: tuple[User, User, User], events: Recorder
) -> None:
    from tests.test_push import recording, register, settle

    alice, bob, carol = trio
    dave = api.signup("Dave")
    gid = create(api, alice, [bob, carol, dave], name="Hikers")["_id"]
    sender = recording(app)
    for user, token in ((bob, "bob-phone"), (carol, "carol-phone"), (dave, "dave-phone"), (alice, "alice-phone")):
        register(api, user, token)
    assert api.put(f"/api/chats/{gid}/mute", dave, json={"until": None}).status_code == 200
    events.clear()
    message = say(api, alice, gid, "See you at the trail")
    settle(app)
    assert message["receiverId"] is None and message["status"] == "sent" and message["system"] is None
    assert events.users("new-message") == {alice.id, bob.id, carol.id, dave.id}
    assert len(sender.sent) == 1
    tokens, notification = sender.sent[0]
    assert sorted(tokens) == ["bob-phone", "carol-phone"]
    assert notification.title == "Hikers" and notification.body == "Alice: See you at the trail"
    assert notification.data == {
        "type": "message",
        "chatId": gid,
        "messageId": message["_id"],
        "senderId": alice.id,
        "chatKind": "group",
    }
    assert api.delete(f"/api/chats/{gid}/mute", dave).get_json()["isMuted"] is False
    say(api, alice, gid, "again")
    settle(app)
    assert sorted(sender.sent[-1][0]) == ["bob-phone", "carol-phone", "dave-phone"]


def test_direct_chats_honour_mute(app: Any, api: ApiClient) -> None:
    from tests.test_push import recording, register, settle

    alice, bob = api.signup("Alice"), api.signup("Bob")
    chat_id = api.send(alice, bob, "first").get_json()["chatId"]
    settle(app)
    sender = recording(app)
    register(api, bob, "bob-phone")
    until = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    muted = api.put(f"/api/chats/{chat_id}/mute", bob, json={"until": until.isoformat()}).get_json()
    assert muted["isMuted"] is True and muted["mutedUntil"] == until.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    api.send(alice, bob, "quiet")
    settle(app)
    assert sender.sent == []
    assert api.delete(f"/api/chats/{chat_id}/mute", bob).status_code == 200
    api.send(alice, bob, "loud")
    settle(app)
    assert [n.body for _, n in sender.sent] == ["loud"]


@pytest.mark.parametrize("until", ["2000-01-01T00:00:00Z", "yesterday", 5])
def test_mute_until_must_be_future_or_null(api: ApiClient, trio: tuple[User, User, User], until: Any) -> None:
    alice, bob, _ = trio
    gid = create(api, alice, [bob])["_id"]
    response = api.put(f"/api/chats/{gid}/mute", bob, json={"until": until})
    assert response.status_code == 400 and response.get_json()["code"] == "validation_error"
    assert api.put(f"/api/chats/{gid}/mute", bob, json={}).status_code == 400


def test_read_watermark_unread_counts_aggregate_status_and_receipts(
    api: ApiClient, trio: tuple[User, User, User], events: Recorder
) -> None:
    alice, bob, carol = trio
    gid = create(api, alice, [bob, carol])["_id"]
    first = say(api, alice, gid, "one")
    second = say(api, alice, gid, "two")
    say(api, bob, gid, "bob's")
    assert item_of(api, bob, gid)["unreadCount"] == 2
    assert item_of(api, carol, gid)["unreadCount"] == 3
    assert item_of(api, alice, gid)["unreadCount"] == 1
    events.clear()
    assert api.put(f"/api/chats/{gid}/read", bob, json={"upTo": first["_id"]}).get_json() == {"updated": 1}
    assert events.of("messages-read", alice) == [
        {
            "chatId": gid,
            "readerId": bob.id,
            "messageIds": [first["_id"]],
            "readAt": events.of("messages-read")[0]["readAt"],
        }
    ]
    assert events.of("message-status") == []  # carol has not read it yet
    assert item_of(api, bob, gid)["unreadCount"] == 1
    # never back
    assert api.put(f"/api/chats/{gid}/read", bob, json={"upTo": first["_id"]}).get_json() == {"updated": 0}
    events.clear()
    assert api.put(f"/api/chats/{gid}/read", carol, json={"upTo": second["_id"]}).get_json() == {"updated": 2}
    statuses = events.of("message-status", alice)
    assert [(s["messageId"], s["status"]) for s in statuses] == [(first["_id"], "read")]
    assert {m["_id"]: m["status"] for m in history(api, carol, gid)}[first["_id"]] == "read"
    assert {m["_id"]: m["status"] for m in history(api, bob, gid)}[second["_id"]] == "sent"
    receipts = api.get(f"/api/chats/{gid}/messages/{second['_id']}/receipts", alice).get_json()
    by_user = {r["userId"]: r for r in receipts}
    assert set(by_user) == {bob.id, carol.id}
    assert by_user[bob.id]["readAt"] is None and by_user[carol.id]["readAt"] is not None
    assert by_user[carol.id]["deliveredAt"] is not None
    response = api.get(f"/api/chats/{gid}/messages/{second['_id']}/receipts", bob)
    assert response.status_code == 403 and response.get_json()["code"] == "not_sender"
    for bad in ("ffffffffffffffffffffffff", "nope"):
        assert api.get(f"/api/chats/{gid}/messages/{bad}/receipts", alice).status_code == 404
    response = api.put(f"/api/chats/{gid}/read", bob, json={"upTo": "nope"})
    assert response.status_code == 400
    response = api.put(f"/api/chats/{gid}/read", bob, json={"upTo": "ffffffffffffffffffffffff"})
    assert response.status_code == 404 and response.get_json()["code"] == "message_not_found"


def test_message_read_by_id_works_for_group_messages(api: ApiClient, trio: tuple[User, User, User]) -> None:
    alice, bob, _carol = trio
    gid = create(api, alice, [bob])["_id"]
    message = say(api, alice, gid, "hi")
    assert api.put(f"/api/messages/read/{message['_id']}", alice).get_json()["code"] == "not_receiver"
    assert api.put(f"/api/messages/read/{message['_id']}", bob).get_json() == {"updated": 1}
    assert history(api, alice, gid)[-1]["status"] == "read"  # bob was the only other member


def test_receipts_list_only_members_at_send_time(api: ApiClient, trio: tuple[User, User, User]) -> None:
    alice, bob, carol = trio
    gid = create(api, alice, [bob])["_id"]
    early = say(api, alice, gid, "early")
    assert api.post(f"/api/chats/{gid}/members", alice, json={"userIds": [carol.id]}).status_code == 200
    late = say(api, alice, gid, "late")
    rows = api.get(f"/api/chats/{gid}/messages/{early['_id']}/receipts", alice).get_json()
    assert [r["userId"] for r in rows] == [bob.id]
    rows = api.get(f"/api/chats/{gid}/messages/{late['_id']}/receipts", alice).get_json()
    assert sorted(r["userId"] for r in rows) == sorted([bob.id, carol.id])
    # carol never saw `early`: she cannot reach it
    assert api.put(f"/api/chats/{gid}/read", carol, json={"upTo": early["_id"]}).status_code == 404


def test_idempotent_group_send(api: ApiClient, trio: tuple[User, User, User]) -> None:
    alice, bob, carol = trio
    gid = create(api, alice, [bob])["_id"]
    body = {"text": "once", "clientMessageId": "c-1"}
    first = api.post(f"/api/chats/{gid}/messages", alice, json=body)
    again = api.post(f"/api/chats/{gid}/messages", alice, json=body)
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json()["_id"] == first.get_json()["_id"]
    assert len(history(api, bob, gid)) == 2
    other = create(api, alice, [carol])["_id"]
    response = api.post(f"/api/chats/{other}/messages", alice, json=body)
    assert response.status_code == 409 and response.get_json()["code"] == "client_message_id_reused"


def test_blocks_do_not_apply_inside_a_group(api: ApiClient, trio: tuple[User, User, User]) -> None:
    alice, bob, carol = trio
    gid = create(api, alice, [bob, carol])["_id"]
    assert api.post(f"/api/users/block/{carol.id}", bob).status_code == 200
    say(api, carol, gid, "still here")
    assert history(api, bob, gid)[-1]["text"] == "still here"


# --- the chat list ---------------------------------------------------------------------------------------


def test_chat_list_mixes_kinds_pins_by_chat_and_searches_group_names(
    api: ApiClient, trio: tuple[User, User, User], events: Recorder
) -> None:
    alice, bob, carol = trio
    api.send(bob, alice, "direct")
    hikers = create(api, alice, [bob, carol], name="Hikers")["_id"]
    create(api, carol, [alice], name="Book club")
    listed = chat_list(api, alice)
    assert [c["kind"] for c in listed] == ["group", "group", "direct"]
    direct_item = listed[-1]
    assert direct_item["isMuted"] is False and direct_item["mutedUntil"] is None
    events.clear()
    pinned = api.put(f"/api/chats/{hikers}/pin", alice).get_json()
    assert pinned["isPinned"] is True
    assert events.of("chat-pinned", alice) == [{"chatId": hikers, "userId": None}]
    assert chat_list(api, alice)[0]["_id"] == hikers
    assert [c["name"] for c in chat_list(api, alice, q="hike")] == ["Hikers"]
    assert [c["kind"] for c in chat_list(api, alice, q="bob")] == ["direct"]
    # a direct chat's pin by chat id is Part 1's pin of that user
    direct_id = direct_item["_id"]
    assert api.put(f"/api/chats/{direct_id}/pin", alice).get_json()["isPinned"] is True
    assert api.get("/api/users/pinned", alice).get_json()[0]["_id"] == bob.id
    assert api.delete(f"/api/chats/{hikers}/pin", alice).get_json()["isPinned"] is False
    assert chat_list(api, alice)[0]["_id"] == direct_id
    # pages are stable across kinds
    page = api.get("/api/messages/chats?limit=2", alice)
    rest = api.get(f"/api/messages/chats?limit=2&cursor={page.headers['X-Next-Cursor']}", alice).get_json()
    assert len(page.get_json()) + len(rest) == 3


def test_group_membership_shares_no_presence(api: ApiClient, trio: tuple[User, User, User]) -> None:
    from chatbox.models import User as UserDocument
    from chatbox.users.rules import presence_audience

    alice, bob, carol = trio
    create(api, alice, [bob, carol])
    api.send(alice, bob, "direct")
    audience = {str(u.id) for u in presence_audience(UserDocument.objects.get(id=alice.id))}
    assert audience == {bob.id}


def test_system_messages_are_never_unread(api: ApiClient, trio: tuple[User, User, User]) -> None:
    alice, bob, carol = trio
    gid = create(api, alice, [bob])["_id"]
    api.patch(f"/api/chats/{gid}", alice, json={"name": "New"})
    api.post(f"/api/chats/{gid}/members", alice, json={"userIds": [carol.id]})
    assert item_of(api, bob, gid)["unreadCount"] == 0
    assert item_of(api, bob, gid)["lastMessage"]["system"]["type"] == "member_added"


# --- the message lifecycle inside groups ------------------------------------------------------------------


def test_replies_edits_reactions_and_deletes_in_a_group(
    api: ApiClient, trio: tuple[User, User, User], events: Recorder
) -> None:
    alice, bob, carol = trio
    dave = api.signup("Dave")
    gid = create(api, alice, [bob, carol])["_id"]
    question = say(api, alice, gid, "Who brings the tent?")
    assert api.post(f"/api/chats/{gid}/members", alice, json={"userIds": [dave.id]}).status_code == 200
    reply = api.post(f"/api/chats/{gid}/messages", bob, json={"text": "Me", "replyTo": question["_id"]})
    assert reply.status_code == 201 and reply.get_json()["replyTo"]["_id"] == question["_id"]
    # dave joined later: he cannot quote what was said before him
    refused = api.post(f"/api/chats/{gid}/messages", dave, json={"text": "?", "replyTo": question["_id"]})
    assert refused.status_code == 400 and refused.get_json()["code"] == "invalid_reply"
    assert api.put(f"/api/messages/{question['_id']}/reactions", dave, json={"emoji": "👍"}).status_code == 404

    events.clear()
    edited = api.patch(f"/api/messages/{question['_id']}", alice, json={"text": "Who brings the big tent?"})
    assert edited.status_code == 200
    assert events.users("message-updated") == {alice.id, bob.id, carol.id, dave.id}
    replied = next(m for m in history(api, bob, gid) if m["_id"] == reply.get_json()["_id"])
    assert replied["replyTo"]["text"] == "Who brings the big tent?"
    events.clear()
    reacted = api.put(f"/api/messages/{reply.get_json()['_id']}/reactions", carol, json={"emoji": "🎉"})
    assert reacted.status_code == 200 and reacted.get_json()["reactions"][0]["userIds"] == [carol.id]
    assert events.users("message-reactions") == {alice.id, bob.id, carol.id, dave.id}
    created = history(api, alice, gid)[0]
    assert created["system"]["type"] == "created"
    for method, path, body, code in (
        ("PUT", f"/api/messages/{created['_id']}/reactions", {"emoji": "👍"}, "system_message"),
        ("POST", f"/api/messages/{created['_id']}/forward", {"chatIds": [gid]}, "system_message"),
        ("PATCH", f"/api/messages/{created['_id']}", {"text": "x"}, "not_sender"),
    ):
        response = api.request(method, path, alice, json=body)
        assert response.status_code == 403 and response.get_json()["code"] == code, (method, response.get_json())

    # deleted for me: gone from my history and my unread count, not from others'
    unread_before = item_of(api, carol, gid)["unreadCount"]
    assert api.delete(f"/api/messages/{question['_id']}?for=me", carol).status_code == 200
    assert question["_id"] not in [m["_id"] for m in history(api, carol, gid)]
    assert item_of(api, carol, gid)["unreadCount"] == unread_before - 1
    assert question["_id"] in [m["_id"] for m in history(api, bob, gid)]
    # deleted for everyone: a tombstone, no longer unread nor found
    events.clear()
    assert api.delete(f"/api/messages/{reply.get_json()['_id']}?for=everyone", bob).status_code == 200
    assert events.users("message-deleted") == {alice.id, bob.id, carol.id, dave.id}
    assert item_of(api, carol, gid)["unreadCount"] == unread_before - 2
    assert api.get(f"/api/chats/{gid}/search?q=Me", carol).get_json() == []

    # a former member can neither edit nor react any more
    mine = say(api, carol, gid, "carol's last words")
    assert api.delete(f"/api/chats/{gid}/members/{carol.id}", carol).status_code == 200
    response = api.patch(f"/api/messages/{mine['_id']}", carol, json={"text": "changed"})
    assert response.status_code == 403 and response.get_json()["code"] == "not_a_member"
    response = api.put(f"/api/messages/{mine['_id']}/reactions", carol, json={"emoji": "👍"})
    assert response.status_code == 403 and response.get_json()["code"] == "not_a_member"


def test_forward_into_and_out_of_a_group(api: ApiClient, trio: tuple[User, User, User], events: Recorder) -> None:
    alice, bob, carol = trio
    gid = create(api, alice, [bob, carol])["_id"]
    direct = api.send(bob, alice, "forward me").get_json()
    events.clear()
    copies = api.post(f"/api/messages/{direct['_id']}/forward", alice, json={"chatIds": [gid]})
    assert copies.status_code == 201, copies.get_json()
    (copy,) = copies.get_json()
    assert copy["chatId"] == gid and copy["receiverId"] is None and copy["forwarded"] is True
    assert events.users("new-message") == {alice.id, bob.id, carol.id}
    assert item_of(api, carol, gid)["lastMessage"]["_id"] == copy["_id"]
    # out of the group, to a direct chat
    out = api.post(f"/api/messages/{copy['_id']}/forward", carol, json={"to": [bob.id]})
    assert out.status_code == 201 and out.get_json()[0]["receiverId"] == bob.id
    # not into a group I left, nor one I never was in
    other = create(api, bob, [carol])["_id"]
    assert api.delete(f"/api/chats/{gid}/members/{carol.id}", carol).status_code == 200
    response = api.post(f"/api/messages/{out.get_json()[0]['_id']}/forward", carol, json={"chatIds": [gid]})
    assert response.status_code == 403 and response.get_json()["details"] == {"targets": {gid: "not_a_member"}}
    response = api.post(f"/api/messages/{direct['_id']}/forward", alice, json={"chatIds": [other]})
    assert response.status_code == 404 and response.get_json()["details"] == {"targets": {other: "chat_not_found"}}


def test_avatar_by_multipart_patch_counts_against_the_quota_and_goes_with_the_group(
    app: Any, api: ApiClient, trio: tuple[User, User, User]
) -> None:
    import io

    from bson import ObjectId

    from chatbox.models import StorageUsage, StoredFile

    alice, bob, _carol = trio
    gid = create(api, alice, [bob])["_id"]
    response = api.patch(f"/api/chats/{gid}", bob, data={"avatar": (io.BytesIO(PNG_1PX), "team.png")})
    assert response.status_code == 403 and response.get_json()["code"] == "not_admin"
    assert StoredFile.objects.count() == 0  # nothing kept from a refused request
    updated = api.patch(
        f"/api/chats/{gid}", alice, data={"name": "With picture", "avatar": (io.BytesIO(PNG_1PX), "t.png")}
    )
    assert updated.status_code == 200, updated.get_json()
    item = updated.get_json()
    assert item["name"] == "With picture" and item["avatar"].startswith("/api/files/")
    types = [m["system"]["type"] for m in history(api, bob, gid)[-2:]]
    assert types == ["renamed", "avatar_changed"]
    assert api.get(item["avatar"], bob).get_data() == PNG_1PX
    assert StorageUsage.used_by(ObjectId(alice.id)) == len(PNG_1PX)  # the avatar is its uploader's
    for user in (bob, alice):
        assert api.delete(f"/api/chats/{gid}/members/{user.id}", user).status_code == 200
    assert StoredFile.objects.count() == 0
    assert StorageUsage.used_by(ObjectId(alice.id)) == 0


def test_deleting_a_group_keeps_files_that_forwards_elsewhere_carry(
    api: ApiClient, trio: tuple[User, User, User]
) -> None:
    import io

    alice, bob, carol = trio
    gid = create(api, alice, [bob])["_id"]
    sent = api.post(f"/api/chats/{gid}/messages", bob, data={"text": "", "file": (io.BytesIO(b"plan\n"), "plan.txt")})
    assert sent.status_code == 201
    message = sent.get_json()
    forwarded = api.post(f"/api/messages/{message['_id']}/forward", bob, json={"to": [carol.id]})
    assert forwarded.status_code == 201
    for user in (alice, bob):
        assert api.delete(f"/api/chats/{gid}/members/{user.id}", user).status_code == 200
    assert api.get(f"/api/chats/{gid}", bob).status_code == 404
    file_url = message["attachments"][0]["url"]
    assert api.get(file_url, carol).get_data() == b"plan\n"  # the forward still carries it


def test_group_events_are_durable_in_each_members_stream(api: ApiClient, trio: tuple[User, User, User]) -> None:
    alice, bob, carol = trio

    def stream(user: User) -> list[tuple[str, dict[str, Any]]]:
        body = api.get("/api/sync?limit=500", user).get_json()
        seqs = [e["seq"] for e in body["events"]]
        assert seqs == list(range(1, len(seqs) + 1))  # numbered per user, no gap
        return [(e["event"], e["data"]) for e in body["events"]]

    gid = create(api, alice, [bob, carol])["_id"]
    message = say(api, alice, gid, "durable hello")
    assert api.patch(f"/api/chats/{gid}", alice, json={"name": "Durable"}).status_code == 200
    assert api.put(f"/api/chats/{gid}/read", bob, json={"upTo": message["_id"]}).status_code == 200
    assert api.delete(f"/api/chats/{gid}/members/{carol.id}", alice).status_code == 200
    names = [event for event, _ in stream(bob)]
    assert names[:2] == ["new-chat", "new-message"] and "chat-updated" in names
    assert any(event == "new-message" and data["_id"] == message["_id"] for event, data in stream(bob))
    assert [d["messageIds"] for e, d in stream(alice) if e == "messages-read"] == [[message["_id"]]]
    carols = stream(carol)
    assert carols[-1] == ("chat-removed", {"chatId": gid})
    assert carols[-2][0] == "new-message" and carols[-2][1]["system"]["type"] == "member_removed"
    assert api.put(f"/api/chats/{gid}/pin", bob).status_code == 200
    assert stream(bob)[-1] == ("chat-pinned", {"chatId": gid, "userId": None})
