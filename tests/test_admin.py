"""The administration API: only accounts with isAdmin; list and search accounts, switch them off and on,
end their sessions; the command line grants isAdmin and shares the actions; the first account of an
empty embedded database administers it in development only."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import PASSWORD, ApiClient, User
from tests.support.database import empty_database
from tests.support.sockets import LiveApi, Socket, wait_until

ACTIONS = ("deactivate", "activate", "block", "unblock", "revoke-sessions")


@pytest.fixture
def admin(app: Any, api: ApiClient) -> User:
    user = api.signup("Ada Admin")
    result = app.test_cli_runner().invoke(args=["users", "make-admin", user.email])
    assert result.exit_code == 0 and "isAdmin=True" in result.output
    return user


def test_only_administrators_may_use_it(app: Any, api: ApiClient, admin: User) -> None:
    someone, other = api.signup("Someone"), api.signup("Other")
    assert api.get("/api/auth/check", someone).get_json()["isAdmin"] is False
    assert api.get("/api/auth/check", admin).get_json()["isAdmin"] is True
    calls = [("GET", "/api/admin/users")] + [("POST", f"/api/admin/users/{other.id}/{a}") for a in ACTIONS]
    for method, path in calls:
        refused = api.request(method, path, someone)
        assert refused.status_code == 403 and refused.get_json()["code"] == "admin_only", path
        assert api.request(method, path).status_code == 401, path
    assert api.get("/api/auth/check", other).status_code == 200  # nothing happened to them
    # Taken back: refused again.
    assert app.test_cli_runner().invoke(args=["users", "revoke-admin", admin.email]).exit_code == 0
    assert api.get("/api/admin/users", admin).get_json()["code"] == "admin_only"


def test_list_and_search_every_account_page_by_page(api: ApiClient, admin: User) -> None:
    people = [api.signup(f"Listed {n}") for n in range(5)]
    assert api.post(f"/api/admin/users/{people[0].id}/deactivate", admin).status_code == 200
    pages, cursor = [], None
    while True:
        response = api.get(
            "/api/admin/users", admin, query_string={"limit": 2, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200
        pages.append(response.get_json())
        cursor = response.headers.get("X-Next-Cursor")
        if not cursor:
            break
    listed = [u for page in pages for u in page]
    assert all(len(page) <= 2 for page in pages)
    assert [u["_id"] for u in listed] == [admin.id, *[p.id for p in people]]
    assert listed[1]["isActive"] is False and listed[0]["isAdmin"] is True
    public = {"_id", "fullName", "email", "profilePic", "lastSeen", "isOnline", "createdAt"}
    assert set(listed[0]) == public | {"isActive", "isBlocked", "isAdmin"}
    assert "password" not in str(listed).lower()
    found = api.get("/api/admin/users", admin, query_string={"q": "LISTED 3"}).get_json()
    assert [u["_id"] for u in found] == [people[3].id]
    by_email = api.get("/api/admin/users", admin, query_string={"q": people[4].email}).get_json()
    assert [u["_id"] for u in by_email] == [people[4].id]
    assert api.get("/api/admin/users", admin, query_string={"q": ".*"}).get_json() == []  # literal text
    assert api.get("/api/admin/users", admin, query_string={"cursor": "bad"}).status_code == 400


def test_switch_accounts_off_and_on_and_end_their_sessions(api: ApiClient, admin: User) -> None:
    user = api.signup("Target")
    for action, undo, code in (
        ("deactivate", "activate", "account_deactivated"),
        ("block", "unblock", "account_blocked"),
    ):
        changed = api.post(f"/api/admin/users/{user.id}/{action}", admin)
        assert changed.status_code == 200
        assert changed.get_json()["isActive" if action == "deactivate" else "isBlocked"] is (action == "block")
        refused = api.get("/api/auth/check", user)
        assert refused.status_code == 403 and refused.get_json()["code"] == code
        assert api.post(f"/api/admin/users/{user.id}/{undo}", admin).status_code == 200
        assert api.get("/api/auth/check", user).status_code == 200
    ended = api.post(f"/api/admin/users/{user.id}/revoke-sessions", admin)
    assert ended.status_code == 200 and ended.get_json()["isActive"] is True
    old = api.get("/api/auth/check", user)
    assert old.status_code == 401 and old.get_json()["code"] == "token_outdated"
    assert api.post("/api/auth/login", json={"email": user.email, "password": PASSWORD}).status_code == 200


def test_refusals_unknown_users_and_self_lock_out(api: ApiClient, admin: User) -> None:
    for action in ("deactivate", "block"):
        refused = api.post(f"/api/admin/users/{admin.id}/{action}", admin)
        assert refused.status_code == 400 and refused.get_json()["code"] == "self_not_allowed"
    for bad in ("0123456789abcdef01234567", "not-an-id"):
        missing = api.post(f"/api/admin/users/{bad}/block", admin)
        assert missing.status_code == 404 and missing.get_json()["code"] == "user_not_found"
    assert api.get("/api/auth/check", admin).status_code == 200


def test_the_command_line_uses_the_same_actions(app: Any, api: ApiClient) -> None:
    runner = app.test_cli_runner()
    user = api.signup("Cli")
    assert runner.invoke(args=["users", "revoke-sessions", user.email]).exit_code == 0
    assert api.get("/api/auth/check", user).get_json()["code"] == "token_outdated"
    assert runner.invoke(args=["users", "make-admin", "nobody@example.com"]).exit_code != 0


def test_a_deactivated_account_loses_its_sockets_at_once(tmp_path: Any) -> None:
    from tests.support.served import served_app

    # A sweep an hour away: the drop comes from the change itself.
    with served_app(tmp_path, {"SESSION_SWEEP_SECONDS": 3600}) as (app, url):
        live = LiveApi(url)
        admin, user = live.signup("Boss"), live.signup("Worker")
        assert app.test_cli_runner().invoke(args=["users", "make-admin", admin.email]).exit_code == 0
        socket = Socket(url, user)
        assert live.call("POST", f"/api/admin/users/{user.id}/deactivate", admin).status_code == 200
        wait_until(lambda: not socket.client.connected, "the deactivated account's socket to be dropped")


@pytest.mark.parametrize(("env", "first_is_admin"), [("development", True), ("testing", False)])
def test_the_first_account_of_an_empty_embedded_database_is_admin_in_development_only(
    tmp_path: Any, env: str, first_is_admin: bool
) -> None:
    from chatbox import create_app

    empty_database()
    app = create_app({"CHATBOX_ENV": env, "UPLOAD_DIR": str(tmp_path), "RATELIMIT_ENABLED": False})
    api = ApiClient(app.test_client(use_cookies=False))
    try:
        first, second = api.signup("First"), api.signup("Second")
        assert first.data["isAdmin"] is first_is_admin
        assert second.data["isAdmin"] is False
        assert (api.get("/api/admin/users", first).status_code == 200) is first_is_admin
    finally:
        empty_database()
