"""Access-control matrix: every endpoint that touches a chat, a message, a file or a user list, called as
the owner, as a third user, as a user the owner blocked, without a token, with a revoked (logged-out)
token and with an expired one. Statuses must match, and nothing private may leak into any answer:
no foreign message text, no file bytes, no email where the endpoint has no business showing one.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from tests.support.api import ApiClient, User
from tests.support.database import delete_every_document
from tests.support.files import image_bytes

SECRET_TO_PARTNER = "owner-to-partner-secret-7c1f"
SECRET_TO_OWNER = "partner-to-owner-secret-93ad"
FILE_BYTES = b"confidential-file-bytes-5e2b\n"
ROLES = ("owner", "third", "blocked", "anonymous", "revoked", "expired")
SIGNED_OUT = ("anonymous", "revoked", "expired")


@dataclass
class World:
    owner: User
    partner: User
    third: User
    blocked: User
    to_owner_id: str
    to_partner_id: str
    file_id: str
    image_id: str = ""
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def emails(self) -> list[str]:
        return [u.email for u in (self.owner, self.partner, self.third, self.blocked)]


def _token_for(app: Any, user: User, expires: timedelta) -> str:
    from flask_jwt_extended import create_access_token

    from chatbox.models import User as UserDocument

    with app.app_context():
        document = UserDocument.objects.get(id=user.id)
        return create_access_token(
            identity=user.id, additional_claims={"ver": document.token_version}, expires_delta=expires
        )


@pytest.fixture
def world(app: Any, api: ApiClient) -> World:
    owner, partner, third, blocked = (api.signup(n) for n in ("Owner", "Partner", "Third", "Blocked"))
    to_partner = api.send(owner, partner, SECRET_TO_PARTNER).get_json()
    to_owner = api.send(partner, owner, SECRET_TO_OWNER).get_json()
    upload = api.post(
        f"/api/messages/send/{owner.id}",
        partner,
        data={"text": "", "file": (io.BytesIO(FILE_BYTES), "notes.txt")},
    )
    assert upload.status_code == 201, upload.get_json()
    file_id = upload.get_json()["attachments"][0]["_id"]
    picture = api.post(
        f"/api/messages/send/{owner.id}", partner, data={"images": (io.BytesIO(image_bytes("PNG", (40, 30))), "p.png")}
    )
    assert picture.status_code == 201, picture.get_json()
    image_id = picture.get_json()["attachments"][0]["_id"]
    assert api.send(blocked, owner, "hello before the block").status_code == 201
    assert api.post(f"/api/users/block/{blocked.id}", owner).status_code == 200
    assert api.post(f"/api/users/pin/{partner.id}", owner).status_code == 200

    login = api.post("/api/auth/login", json={"email": owner.email, "password": "correct horse battery"})
    revoked = login.get_json()["token"]
    assert api.post("/api/auth/logout", headers={"Authorization": f"Bearer {revoked}"}).status_code == 200
    world = World(owner, partner, third, blocked, to_owner["_id"], to_partner["_id"], file_id, image_id)
    world.headers = {
        "owner": owner.headers,
        "third": third.headers,
        "blocked": blocked.headers,
        "anonymous": {},
        "revoked": {"Authorization": f"Bearer {revoked}"},
        "expired": {"Authorization": f"Bearer {_token_for(app, owner, timedelta(seconds=-60))}"},
    }
    return world


@dataclass
class Case:
    method: str
    path: Callable[[World], str]
    expect: dict[str, int]
    body: dict[str, Any] | None = None
    # Endpoints that list people (contacts, chats) show public users, email included, by design.
    shows_users: bool = False


def _owner_path(template: str) -> Callable[[World], str]:
    return lambda w: template.format(
        partner=w.partner.id, owner=w.owner.id, file=w.file_id, image=w.image_id, msg=w.to_owner_id
    )


def _signed_in(owner: int, third: int, blocked: int) -> dict[str, int]:
    return {"owner": owner, "third": third, "blocked": blocked} | dict.fromkeys(SIGNED_OUT, 401)


CASES = [
    # The owner's conversation with the partner: others reach only their own (empty) chat with that id.
    Case("GET", _owner_path("/api/messages/{partner}"), _signed_in(200, 200, 200)),
    Case("GET", _owner_path("/api/messages/search/{partner}?q=secret"), _signed_in(200, 200, 200)),
    Case("GET", _owner_path("/api/messages/chats"), _signed_in(200, 200, 200), shows_users=True),
    Case("GET", _owner_path("/api/messages/chats?q=Partner"), _signed_in(200, 200, 200), shows_users=True),
    Case("GET", _owner_path("/api/messages/contacts"), _signed_in(200, 200, 200), shows_users=True),
    # A message to the owner: only its receiver may mark it read; others do not learn it exists.
    Case("PUT", _owner_path("/api/messages/read/{msg}"), _signed_in(200, 404, 404)),
    # The partner's file in the owner's chat.
    Case("GET", _owner_path("/api/files/{file}"), _signed_in(200, 403, 403)),
    Case("GET", _owner_path("/api/files/{file}/thumb"), _signed_in(404, 403, 403)),
    Case("GET", _owner_path("/api/files/{image}"), _signed_in(200, 403, 403)),
    Case("GET", _owner_path("/api/files/{image}/thumb"), _signed_in(200, 403, 403)),
    # Sending to the owner: the blocked user is refused.
    Case("POST", _owner_path("/api/messages/send/{owner}"), _signed_in(400, 201, 403), body={"text": "hi"}),
    Case("POST", _owner_path("/api/messages/send/{partner}"), _signed_in(201, 201, 201), body={"text": "hey"}),
    # Lists of users: each caller sees only their own.
    Case("GET", _owner_path("/api/users/blocked"), _signed_in(200, 200, 200), shows_users=True),
    Case("GET", _owner_path("/api/users/pinned"), _signed_in(200, 200, 200), shows_users=True),
    Case("GET", _owner_path("/api/auth/check"), _signed_in(200, 200, 200), shows_users=True),
    # The event stream: each caller gets their own (chat items in it show public users, by design).
    Case("GET", _owner_path("/api/sync"), _signed_in(200, 200, 200), shows_users=True),
    Case("GET", _owner_path("/api/sync?since=0&limit=500"), _signed_in(200, 200, 200), shows_users=True),
    # Administration: none of these accounts is an administrator.
    Case("GET", _owner_path("/api/admin/users"), _signed_in(403, 403, 403)),
    *(
        Case("POST", _owner_path("/api/admin/users/{partner}/" + action), _signed_in(403, 403, 403))
        for action in ("deactivate", "activate", "block", "unblock", "revoke-sessions")
    ),
    # Clearing "the chat with the partner" only ever clears the caller's own chat (run last: it hides history).
    Case("DELETE", _owner_path("/api/messages/chats/{partner}"), _signed_in(200, 200, 200)),
]


def _forbidden_content(world: World, role: str, case: Case) -> list[str]:
    """Strings that must not appear in `role`'s answer."""
    if role == "owner":
        return []
    secrets = [SECRET_TO_PARTNER, SECRET_TO_OWNER, FILE_BYTES.decode().strip()]
    if role in SIGNED_OUT or not case.shows_users:
        return secrets + world.emails
    return secrets


def test_access_matrix(api: ApiClient, world: World) -> None:
    problems = []
    for case in CASES:
        path = case.path(world)
        for role in ROLES:
            response = api.request(case.method, path, headers=world.headers[role], json=case.body)
            text = response.get_data().decode(errors="replace")  # images are bytes
            if response.status_code != case.expect[role]:
                problems.append(f"{case.method} {path} as {role}: {response.status_code}, expected {case.expect[role]}")
            if response.status_code >= 400:
                body = response.get_json()
                if not (isinstance(body, dict) and body.get("message") and body.get("code")):
                    problems.append(f"{case.method} {path} as {role}: error is not {{message, code}}: {text[:200]}")
            leaked = [s for s in _forbidden_content(world, role, case) if s in text]
            if leaked:
                problems.append(f"{case.method} {path} as {role} leaks {leaked}")
    assert not problems, "\n".join(problems)


def test_owner_sees_what_the_others_cannot(api: ApiClient, world: World) -> None:
    history = api.get(f"/api/messages/{world.partner.id}", world.owner).get_json()
    assert [m["text"] for m in history][:2] == [SECRET_TO_PARTNER, SECRET_TO_OWNER]
    found = api.get(f"/api/messages/search/{world.partner.id}", world.owner, query_string={"q": "secret"})
    assert len(found.get_json()) == 2
    file = api.get(f"/api/files/{world.file_id}", world.owner)
    assert file.status_code == 200 and file.data == FILE_BYTES
    assert [u["_id"] for u in api.get("/api/users/blocked", world.owner).get_json()] == [world.blocked.id]
    assert api.get("/api/users/blocked", world.blocked).get_json() == []
    assert [u["_id"] for u in api.get("/api/users/pinned", world.owner).get_json()] == [world.partner.id]
    third_chats = api.get("/api/messages/chats", world.third).get_json()
    assert third_chats == []
    blocked_chats = api.get("/api/messages/chats", world.blocked).get_json()
    assert [c["user"]["_id"] for c in blocked_chats] == [world.owner.id]
    assert blocked_chats[0]["blockedByOtherUser"] is True and blocked_chats[0]["user"]["isOnline"] is False


def test_the_sender_may_not_mark_their_own_message_read(api: ApiClient, world: World) -> None:
    response = api.put(f"/api/messages/read/{world.to_owner_id}", world.partner)
    assert response.status_code == 403 and response.get_json()["code"] == "not_receiver"
    assert api.put(f"/api/messages/read/{world.to_partner_id}", world.owner).status_code == 403


def test_signed_out_tokens_say_why(api: ApiClient, world: World) -> None:
    expected = {"anonymous": "unauthorized", "revoked": "token_revoked", "expired": "token_expired"}
    for role, code in expected.items():
        response = api.get("/api/auth/check", headers=world.headers[role])
        assert response.status_code == 401 and response.get_json()["code"] == code, role


def test_blocked_user_is_refused_both_ways(api: ApiClient, world: World) -> None:
    for sender, receiver in ((world.blocked, world.owner), (world.owner, world.blocked)):
        response = api.send(sender, receiver, "hello?")
        assert response.status_code == 403 and response.get_json()["code"] == "blocked"


def test_others_clearing_never_touches_the_owners_chat(api: ApiClient, world: World) -> None:
    for user in (world.third, world.blocked):
        response = api.delete(f"/api/messages/chats/{world.partner.id}", user)
        assert response.status_code == 200 and response.get_json() == {"cleared": True, "deleted": False}
    texts = [m["text"] for m in api.get(f"/api/messages/{world.partner.id}", world.owner).get_json()]
    assert SECRET_TO_PARTNER in texts and SECRET_TO_OWNER in texts
    assert api.get(f"/api/messages/{world.owner.id}", world.partner).get_json()


# --- message lifecycle: each call on a fresh message from the owner to the partner ---------------------

LIFECYCLE_ROLES = ("owner", "partner", "third", "blocked", *SIGNED_OUT)


@dataclass
class LifecycleCase:
    method: str
    suffix: str  # after /api/messages/<id>
    expect: dict[str, int]
    body: dict[str, Any] | None = None
    query: dict[str, str] | None = None


def _participants(owner: int, partner: int) -> dict[str, int]:
    """Only the chat's two participants reach its messages; the others do not learn they exist."""
    return {"owner": owner, "partner": partner, "third": 404, "blocked": 404} | dict.fromkeys(SIGNED_OUT, 401)


LIFECYCLE_CASES = [
    LifecycleCase("PATCH", "", _participants(200, 403), body={"text": "edited"}),
    LifecycleCase("DELETE", "", _participants(200, 403), query={"for": "everyone"}),
    LifecycleCase("DELETE", "", _participants(200, 200), query={"for": "me"}),
    LifecycleCase("PUT", "/reactions", _participants(200, 200), body={"emoji": "👍"}),
    LifecycleCase("DELETE", "/reactions", _participants(200, 200)),
    LifecycleCase("POST", "/forward", _participants(201, 201), body={"to": ["{third}"]}),
]


def test_lifecycle_access_matrix(api: ApiClient, world: World) -> None:
    problems = []
    headers = {**world.headers, "partner": world.partner.headers}
    for case in LIFECYCLE_CASES:
        body = json.loads(json.dumps(case.body).replace("{third}", world.third.id)) if case.body else None
        for role in LIFECYCLE_ROLES:
            message = api.send(world.owner, world.partner, SECRET_TO_PARTNER).get_json()
            api.put(f"/api/messages/{message['_id']}/reactions", world.owner, json={"emoji": "🙂"})
            path = f"/api/messages/{message['_id']}{case.suffix}"
            response = api.request(case.method, path, headers=headers[role], json=body, query_string=case.query)
            label = f"{case.method} {case.suffix or '/'} {case.query or ''} as {role}"
            if response.status_code != case.expect[role]:
                problems.append(f"{label}: {response.status_code}, expected {case.expect[role]}: {response.get_json()}")
            text = response.get_data(as_text=True)
            if response.status_code >= 400:
                error = response.get_json()
                if not (isinstance(error, dict) and error.get("message") and error.get("code")):
                    problems.append(f"{label}: error is not {{message, code}}: {text[:200]}")
                if SECRET_TO_PARTNER in text or any(e in text for e in world.emails):
                    problems.append(f"{label} leaks the message or an email")
    assert not problems, "\n".join(problems)


def test_lifecycle_across_a_block(api: ApiClient, world: World) -> None:
    """In the owner's chat with the user they blocked: nothing new goes in, a delete still works, and
    a message of that chat may be forwarded elsewhere."""
    api.post(f"/api/users/unblock/{world.blocked.id}", world.owner)
    theirs = api.send(world.blocked, world.owner, "before the block").get_json()
    mine = api.send(world.owner, world.blocked, "mine before the block").get_json()
    api.post(f"/api/users/block/{world.blocked.id}", world.owner)
    for user, message in ((world.blocked, theirs), (world.owner, mine)):
        edit = api.request("PATCH", f"/api/messages/{message['_id']}", user, json={"text": "x"})
        react = api.put(f"/api/messages/{message['_id']}/reactions", user, json={"emoji": "👍"})
        into = api.post(f"/api/messages/{mine['_id']}/forward", user, json={"chatIds": [mine["chatId"]]})
        for response in (edit, react, into):
            assert response.status_code == 403 and response.get_json()["code"] == "blocked", response.get_json()
    out = api.post(f"/api/messages/{theirs['_id']}/forward", world.owner, json={"to": [world.partner.id]})
    assert out.status_code == 201
    gone = api.delete(f"/api/messages/{theirs['_id']}", world.blocked, query_string={"for": "everyone"})
    assert gone.status_code == 200
    history = api.get(f"/api/messages/{world.owner.id}", world.blocked).get_json()
    assert next(m for m in history if m["_id"] == theirs["_id"])["deletedAt"]


def test_each_stream_holds_only_its_users_events(api: ApiClient, world: World) -> None:
    def texts(user: User) -> list[str]:
        events = api.get("/api/sync?limit=500", user).get_json()["events"]
        return [e["data"].get("text") for e in events if e["event"] == "new-message"]

    assert SECRET_TO_PARTNER in texts(world.owner) and SECRET_TO_OWNER in texts(world.owner)
    assert SECRET_TO_PARTNER in texts(world.partner)
    assert texts(world.third) == []
    assert SECRET_TO_PARTNER not in texts(world.blocked) and SECRET_TO_OWNER not in texts(world.blocked)
    # The owner's block and pin reached only the owner's stream.
    owner_events = [e["event"] for e in api.get("/api/sync?limit=500", world.owner).get_json()["events"]]
    assert "user-blocked" in owner_events and "chat-pinned" in owner_events
    for other in (world.partner, world.blocked):
        other_events = [e["event"] for e in api.get("/api/sync?limit=500", other).get_json()["events"]]
        assert "user-blocked" not in other_events and "chat-pinned" not in other_events


# --- groups: the same matrix with group roles -------------------------------------------------------------

GROUP_SECRET = "group-secret-4b1e"
GROUP_ROLES = ("owner", "admin", "member", "former", "stranger", "anonymous")


@dataclass
class GroupWorld:
    users: dict[str, User]
    target: User
    newcomer: User
    chat_id: str
    message_id: str
    file_id: str

    def headers(self, role: str) -> dict[str, str]:
        return {} if role == "anonymous" else self.users[role].headers

    def me(self, role: str) -> str:
        return self.users[role].id if role != "anonymous" else self.users["owner"].id


def _group_world(api: ApiClient) -> GroupWorld:
    users = {role: api.signup(role.capitalize()) for role in GROUP_ROLES if role != "anonymous"}
    target, newcomer = api.signup("Target"), api.signup("Newcomer")
    members = [users["admin"].id, users["member"].id, users["former"].id, target.id]
    created = api.post("/api/chats", users["owner"], json={"name": "Crew", "memberIds": members})
    assert created.status_code == 201, created.get_json()
    chat_id = created.get_json()["_id"]
    promoted = api.put(f"/api/chats/{chat_id}/members/{users['admin'].id}/role", users["owner"], json={"role": "admin"})
    assert promoted.status_code == 200
    message = api.post(f"/api/chats/{chat_id}/messages", users["owner"], json={"text": GROUP_SECRET}).get_json()
    upload = api.post(
        f"/api/chats/{chat_id}/messages",
        users["owner"],
        data={"text": "", "file": (io.BytesIO(FILE_BYTES), "notes.txt")},
    )
    assert upload.status_code == 201, upload.get_json()
    removed = api.delete(f"/api/chats/{chat_id}/members/{users['former'].id}", users["owner"])
    assert removed.status_code == 200
    return GroupWorld(users, target, newcomer, chat_id, message["_id"], upload.get_json()["attachments"][0]["_id"])


def _group(owner: int, admin: int, member: int, former: int, stranger: int) -> dict[str, int]:
    return {"owner": owner, "admin": admin, "member": member, "former": former, "stranger": stranger, "anonymous": 401}


@dataclass
class GroupCase:
    method: str
    path: Callable[[GroupWorld, str], str]
    expect: dict[str, int]
    body: Callable[[GroupWorld], dict[str, Any]] | None = None


def _in_group(suffix: str = "") -> Callable[[GroupWorld, str], str]:
    return lambda w, _role: f"/api/chats/{w.chat_id}{suffix.format(msg=w.message_id, target=w.target.id)}"


READ_ONLY = _group(200, 200, 200, 200, 404)
GROUP_CASES = [
    GroupCase("GET", _in_group(), READ_ONLY),
    GroupCase("GET", _in_group("/messages"), READ_ONLY),
    GroupCase("GET", _in_group("/search?q=secret"), READ_ONLY),
    GroupCase("GET", _in_group("/messages/{msg}/receipts"), _group(200, 403, 403, 403, 404)),
    GroupCase("GET", lambda w, _r: f"/api/files/{w.file_id}", _group(200, 200, 200, 200, 403)),
    GroupCase("PUT", lambda w, _r: f"/api/messages/read/{w.message_id}", _group(403, 200, 200, 200, 404)),
    GroupCase("PUT", _in_group("/read"), READ_ONLY, body=lambda w: {"upTo": w.message_id}),
    GroupCase("POST", _in_group("/messages"), _group(201, 201, 201, 403, 404), body=lambda _w: {"text": "hi"}),
    GroupCase("PATCH", _in_group(), _group(200, 200, 403, 403, 404), body=lambda _w: {"name": "Renamed"}),
    GroupCase(
        "POST", _in_group("/members"), _group(200, 200, 403, 403, 404), body=lambda w: {"userIds": [w.newcomer.id]}
    ),
    GroupCase("DELETE", _in_group("/members/{target}"), _group(200, 200, 403, 403, 404)),
    GroupCase(
        "PUT", _in_group("/members/{target}/role"), _group(200, 403, 403, 403, 404), body=lambda _w: {"role": "admin"}
    ),
    # leaving: each caller names themselves
    GroupCase(
        "DELETE", lambda w, role: f"/api/chats/{w.chat_id}/members/{w.me(role)}", _group(200, 200, 200, 404, 404)
    ),
    GroupCase("PUT", _in_group("/pin"), READ_ONLY),
    GroupCase("DELETE", _in_group("/pin"), READ_ONLY),
    GroupCase("PUT", _in_group("/mute"), READ_ONLY, body=lambda _w: {"until": None}),
    GroupCase("DELETE", _in_group("/mute"), READ_ONLY),
    GroupCase("DELETE", _in_group("/messages"), READ_ONLY),
]


def test_group_access_matrix(api: ApiClient) -> None:
    """Every group endpoint as the owner, an admin, a member, a former member, a stranger and without a
    token; a fresh group for each call that changes something. Strangers and the signed-out learn nothing."""
    problems = []
    shared = _group_world(api)
    # The calls that read share one world; each call that changes something gets a new one, on a database
    # that holds only it (what earlier worlds stored would make every later call slower, not different).
    calls = [(case, role) for case in GROUP_CASES for role in GROUP_ROLES]
    calls.sort(key=lambda call: call[0].method != "GET")
    for case, role in calls:
        if case.method == "GET":
            world = shared
        else:
            delete_every_document()
            world = _group_world(api)
        path = case.path(world, role)
        body = case.body(world) if case.body else None
        response = api.request(case.method, path, headers=world.headers(role), json=body)
        text = response.get_data(as_text=True)
        if response.status_code != case.expect[role]:
            problems.append(f"{case.method} {path} as {role}: {response.status_code}, expected {case.expect[role]}")
        if response.status_code >= 400:
            error = response.get_json()
            if not (isinstance(error, dict) and error.get("message") and error.get("code")):
                problems.append(f"{case.method} {path} as {role}: error is not {{message, code}}: {text[:200]}")
        if role in ("stranger", "anonymous") and (GROUP_SECRET in text or FILE_BYTES.decode().strip() in text):
            problems.append(f"{case.method} {path} as {role} leaks the group's content")
    assert not problems, "\n".join(problems)
