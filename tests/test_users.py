from __future__ import annotations

from tests.support.api import ApiClient


def test_block_and_unblock_are_idempotent_and_listed(api: ApiClient) -> None:
    me, bob, cat = api.signup("Me"), api.signup("Bob"), api.signup("Cat")
    for _ in range(2):
        response = api.post(f"/api/users/block/{bob.id}", me)
        assert response.status_code == 200 and response.get_json() == {"blockedUsers": [bob.id]}
    api.post(f"/api/users/block/{cat.id}", me)
    listed = api.get("/api/users/blocked", me).get_json()
    assert [u["_id"] for u in listed] == [bob.id, cat.id]
    assert set(listed[0]) == {"_id", "fullName", "email", "profilePic", "lastSeen", "isOnline", "createdAt"}
    for _ in range(2):
        assert api.post(f"/api/users/unblock/{bob.id}", me).get_json() == {"blockedUsers": [cat.id]}
    assert [u["_id"] for u in api.get("/api/users/blocked", me).get_json()] == [cat.id]


def test_pin_and_unpin_are_idempotent_and_listed(api: ApiClient) -> None:
    me, bob = api.signup("Me"), api.signup("Bob")
    for _ in range(2):
        assert api.post(f"/api/users/pin/{bob.id}", me).get_json() == {"pinnedChats": [bob.id]}
    assert [u["_id"] for u in api.get("/api/users/pinned", me).get_json()] == [bob.id]
    for _ in range(2):
        assert api.post(f"/api/users/unpin/{bob.id}", me).get_json() == {"pinnedChats": []}
    assert api.get("/api/users/pinned", me).get_json() == []


def test_block_and_pin_refuse_self_unknown_and_anonymous(api: ApiClient) -> None:
    me = api.signup("Me")
    for action in ("block", "unblock", "pin", "unpin"):
        own = api.post(f"/api/users/{action}/{me.id}", me)
        assert own.status_code == 400 and own.get_json()["code"] == "self_not_allowed"
        assert api.post(f"/api/users/{action}/000000000000000000000000", me).status_code == 404
        assert api.post(f"/api/users/{action}/not-an-id", me).status_code == 404
        assert api.post(f"/api/users/{action}/{me.id}").status_code == 401
    assert api.get("/api/users/blocked").status_code == 401
    assert api.get("/api/users/pinned").status_code == 401


def test_presence_in_user_objects_never_crosses_a_block(app, api: ApiClient) -> None:  # type: ignore[no-untyped-def]
    from chatbox.models import User as UserDoc
    from chatbox.models.ids import utcnow

    me, partner, stranger, blocker = (api.signup(n) for n in ("Me", "Partner", "Stranger", "Blocker"))
    api.send(partner, me, "hi")
    api.send(blocker, me, "hi")
    api.post(f"/api/users/block/{me.id}", blocker)
    presence = app.extensions["chatbox"].presence
    for user in (partner, stranger, blocker):
        presence.add_connection(user.id, f"sid-{user.id}")
        UserDoc.objects(id=user.id).update_one(set__last_seen=utcnow())

    contacts = {u["_id"]: u for u in api.get("/api/messages/contacts", me).get_json()}
    for visible in (partner.id, stranger.id):
        assert contacts[visible]["isOnline"] is True and contacts[visible]["lastSeen"]
    assert contacts[blocker.id]["isOnline"] is False and contacts[blocker.id]["lastSeen"] is None
    chats = {c["user"]["_id"]: c["user"] for c in api.get("/api/messages/chats", me).get_json()}
    assert chats[partner.id]["isOnline"] is True
    assert chats[blocker.id]["isOnline"] is False and chats[blocker.id]["lastSeen"] is None
    api.post(f"/api/users/pin/{partner.id}", me)
    assert api.get("/api/users/pinned", me).get_json()[0]["isOnline"] is True
    api.post(f"/api/users/block/{partner.id}", me)
    blocked = api.get("/api/users/blocked", me).get_json()
    assert blocked[0]["_id"] == partner.id and blocked[0]["isOnline"] is False and blocked[0]["lastSeen"] is None
    presence.add_connection(me.id, "sid-me")
    assert api.get("/api/auth/check", me).get_json()["isOnline"] is True
