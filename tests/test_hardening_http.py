"""Hardening of the REST side (issue 14): the origin check of cookie-authenticated requests, one token
check for REST and sockets, safe attachment names, and split sign-in rate limits."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import jwt
import pytest

from chatbox.files.names import display_name
from tests.support.api import PASSWORD, ApiClient, unique_email
from tests.support.database import empty_database
from tests.support.served import served_app
from tests.support.sockets import LiveApi, refused

EVIL = "http://evil.example"


# --- cookie-authenticated requests from other sites -------------------------------------------------


@pytest.fixture
def browser(app: Any, api: ApiClient) -> Any:
    """A browser holding a signed-in user's `jwt` cookie, and that user's chat partner."""
    me, other = api.signup("Victim"), api.signup("Other")
    client = app.test_client()
    client.set_cookie("jwt", me.token, domain="localhost")
    return SimpleNamespace(client=client, me=me, other=other)


def test_cookie_requests_from_a_foreign_origin_change_nothing(app: Any, api: ApiClient, browser: Any) -> None:
    client, other = browser.client, browser.other
    attempts = [
        # What a form on another site can post: urlencoded, multipart, and a bodiless logout.
        ("POST", f"/api/users/block/{other.id}", {"data": {"x": "1"}}),
        ("POST", f"/api/messages/send/{other.id}", {"data": {"text": "forged", "clientMessageId": "f1"}}),
        ("PUT", "/api/auth/update-profile", {"data": {"fullName": "Forged"}}),
        ("DELETE", f"/api/messages/chats/{other.id}", {}),
        ("POST", "/api/auth/logout", {}),
    ]
    for method, path, body in attempts:
        for headers in ({"Origin": EVIL}, {"Referer": f"{EVIL}/page?x=1"}, {"Origin": "null"}):
            response = client.open(path, method=method, headers=headers, **body)
            assert response.status_code == 403, (method, path, headers, response.get_json())
            assert response.get_json()["code"] == "origin_not_allowed" and response.get_json()["message"]
    # Nothing happened: no block, no message, same name, and the cookie still works.
    me = client.get("/api/auth/check")
    assert me.status_code == 200 and me.get_json()["fullName"] == "Victim"
    assert client.get("/api/users/blocked").get_json() == []
    assert api.get(f"/api/messages/{browser.me.id}", other).get_json() == []


def test_cookie_requests_from_allowed_origins_or_without_origin_work(app: Any, browser: Any) -> None:
    client, other = browser.client, browser.other
    client_url = app.config["CLIENT_URLS"][0]
    for headers in (
        {"Origin": client_url},
        {"Origin": "http://localhost"},  # the server's own origin (the bundled web client)
        {"Referer": f"{client_url}/chats/1"},
        {},  # neither header: not a browser's cross-site request
    ):
        response = client.post(f"/api/users/pin/{other.id}", headers=headers)
        assert response.status_code == 200, (headers, response.get_json())
    # Safe methods are never refused, whatever the origin.
    assert client.get("/api/auth/check", headers={"Origin": EVIL}).status_code == 200


def test_bearer_requests_signup_and_login_ignore_the_origin(app: Any, api: ApiClient, browser: Any) -> None:
    me, other = browser.me, browser.other
    # A bearer token wins over the cookie: such a request is not a browser's ambient credential.
    response = browser.client.post(
        f"/api/users/pin/{other.id}", headers={"Origin": EVIL, "Authorization": f"Bearer {me.token}"}
    )
    assert response.status_code == 200
    assert api.post(f"/api/users/pin/{other.id}", me, headers={"Origin": EVIL}).status_code == 200
    # Signup and login take no token: a stale cookie sent along does not make them cookie requests.
    body = {"fullName": "New", "email": unique_email("new"), "password": PASSWORD}
    assert browser.client.post("/api/auth/signup", json=body, headers={"Origin": EVIL}).status_code == 201
    login = {"email": body["email"], "password": PASSWORD}
    assert browser.client.post("/api/auth/login", json=login, headers={"Origin": EVIL}).status_code == 200


def test_the_servers_own_host_is_taken_from_x_forwarded_host_only_behind_declared_proxies(
    tmp_path: Any, own_apps: None
) -> None:
    from chatbox import create_app

    for hops, expected in ((0, 403), (1, 200)):
        app = create_app({"UPLOAD_DIR": str(tmp_path), "PROXY_FIX_HOPS": hops})
        user = ApiClient(app.test_client()).signup("Proxied")
        client = app.test_client()
        client.set_cookie("jwt", user.token, domain="localhost")
        headers = {"Origin": "https://chat.example", "X-Forwarded-Host": "chat.example"}
        response = client.post("/api/auth/logout", headers=headers)
        assert response.status_code == expected, (hops, response.get_json())


def test_socket_origin_check_ignores_x_forwarded_host_without_proxies(tmp_path: Any) -> None:
    import socketio

    for hops, accepted in ((0, False), (1, True)):
        with served_app(tmp_path / str(hops), {"PROXY_FIX_HOPS": hops}) as (_app, url):
            user = LiveApi(url).signup()
            client = socketio.Client(reconnection=False)
            headers = {"Origin": "http://chat.example", "X-Forwarded-Host": "chat.example"}
            with contextlib.suppress(socketio.exceptions.ConnectionError):
                client.connect(
                    url, auth={"token": user.token}, headers=headers, transports=["polling"], wait_timeout=15
                )
            assert client.connected is accepted, hops
            client.disconnect()


@pytest.fixture
def own_apps() -> Iterator[None]:
    yield
    empty_database()


# --- one token check for REST and sockets -----------------------------------------------------------


def _odd_tokens(app: Any, user_id: str) -> dict[str, str]:
    """Tokens signed with the server's real key that our login would never issue."""
    from flask_jwt_extended import create_access_token, create_refresh_token

    secret = app.config["JWT_SECRET_KEY"]
    now = int(time.time())
    base = {"sub": user_id, "ver": 0, "type": "access", "jti": "j-1", "iat": now, "nbf": now, "exp": now + 600}
    without = {name: {k: v for k, v in base.items() if k != name} for name in ("exp", "jti", "sub")}
    with app.app_context():
        tokens = {
            "no exp": create_access_token(identity=user_id, additional_claims={"ver": 0}, expires_delta=False),
            "refresh": create_refresh_token(identity=user_id, additional_claims={"ver": 0}),
        }
    tokens.update({f"no {name}": jwt.encode(claims, secret, algorithm="HS256") for name, claims in without.items()})
    tokens["numeric jti"] = jwt.encode({**base, "jti": 5}, secret, algorithm="HS256")
    tokens["type id"] = jwt.encode({**base, "type": "id"}, secret, algorithm="HS256")
    return tokens


def test_rest_refuses_tokens_without_exp_jti_sub_or_of_another_type(app: Any, api: ApiClient) -> None:
    user = api.signup("Claims")
    for what, token in _odd_tokens(app, user.id).items():
        response = api.get("/api/auth/check", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (what, response.get_json())
        assert response.get_json()["code"] == "invalid_token", what
    assert api.get("/api/auth/check", user).status_code == 200


def test_sockets_refuse_the_same_tokens_without_a_traceback(tmp_path: Any, caplog: Any) -> None:
    with served_app(tmp_path) as (app, url):
        user = LiveApi(url).signup("Claims")
        caplog.clear()
        for what, token in _odd_tokens(app, user.id).items():
            assert refused(url, auth={"token": token}) == {"message": "Unauthorized"}, what
        assert [r for r in caplog.records if r.exc_info or r.levelname == "ERROR"] == []


def test_expired_and_revoked_tokens_are_still_refused_on_both(app: Any, api: ApiClient) -> None:
    from flask_jwt_extended import create_access_token

    user = api.signup("Old")
    with app.app_context():
        expired = create_access_token(
            identity=user.id, additional_claims={"ver": 0}, expires_delta=timedelta(seconds=-5)
        )
    assert api.get("/api/auth/check", headers={"Authorization": f"Bearer {expired}"}).get_json()["code"] == (
        "token_expired"
    )


# --- attachment display names ------------------------------------------------------------------------


def test_bidirectional_and_control_characters_are_stripped_from_file_names(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    hidden = "\u2066\u2069\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u2067\u2068\x00\x1b\x7f\x85\u2028"
    name = f"invoice\u202etxt.exe{hidden}.txt"
    sent = api.post(
        f"/api/messages/send/{bob.id}", alice, data={"text": "", "file": (io.BytesIO(b"hello\n"), name)}
    )
    assert sent.status_code == 201, sent.get_json()
    assert sent.get_json()["attachments"][0]["name"] == "invoicetxt.exe.txt"
    stored = api.get(f"/api/messages/{alice.id}", bob).get_json()[-1]["attachments"][0]["name"]
    assert stored == "invoicetxt.exe.txt"


def test_display_name_keeps_text_that_needs_joiners() -> None:
    assert display_name("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645.pdf", "pdf") == (
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645.pdf"
    )
    assert display_name("\U0001f468\u200d\U0001f469.png", "png") == "\U0001f468\u200d\U0001f469.png"
    assert display_name("C:\\Users\\me\\\u202e\u202e", "txt") == "upload.txt"
    assert display_name(None, "pdf") == "upload.pdf"
    assert len(display_name("a" * 1000 + ".txt", "txt")) == 255


# --- sign-in rate limits ------------------------------------------------------------------------------


@pytest.fixture
def limited(tmp_path: Any, own_apps: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An app with rate limits on and a frozen limiter clock."""
    import limits.storage.memory

    import chatbox.ratelimit
    from chatbox import create_app

    now = [time.time()]
    clock = SimpleNamespace(time=lambda: now[0])
    monkeypatch.setattr(limits.storage.memory, "time", clock)
    monkeypatch.setattr(chatbox.ratelimit, "time", clock)
    client = create_app({"UPLOAD_DIR": str(tmp_path), "RATELIMIT_ENABLED": True}).test_client()
    return SimpleNamespace(client=client, clock=now)


def _signup(client: Any, address: str, email: str | None = None) -> Any:
    body = {"fullName": "Someone", "email": email or unique_email("someone"), "password": PASSWORD}
    return client.post("/api/auth/signup", json=body, environ_base={"REMOTE_ADDR": address})


def _login(client: Any, address: str, email: str, password: str = PASSWORD) -> Any:
    body = {"email": email, "password": password}
    return client.post("/api/auth/login", json=body, environ_base={"REMOTE_ADDR": address})


def test_signups_and_logins_have_separate_budgets(limited: Any) -> None:
    client = limited.client
    email = unique_email("family")
    assert [_signup(client, "10.9.0.1", email if i == 0 else None).status_code for i in range(10)] == [201] * 10
    assert _signup(client, "10.9.0.1").status_code == 429
    # The address spent its signups; signing in still works, as often as it succeeds.
    assert [_login(client, "10.9.0.1", email).status_code for _ in range(15)] == [200] * 15


def test_failed_logins_are_limited_per_address_and_then_refuse_even_the_right_password(limited: Any) -> None:
    client = limited.client
    email = unique_email("target")
    assert _signup(client, "10.9.1.1", email).status_code == 201
    assert [_login(client, "10.9.1.2", email, "wrong password").status_code for _ in range(10)] == [401] * 10
    refused_ = _login(client, "10.9.1.2", email)
    # Answering a right guess now would let guessing go on: the whole address waits.
    assert refused_.status_code == 429 and refused_.get_json()["code"] == "rate_limited"
    assert int(refused_.headers["Retry-After"]) >= 1
    assert _login(client, "10.9.1.3", email).status_code == 200  # the owner, elsewhere
    limited.clock[0] += 61
    assert _login(client, "10.9.1.2", email).status_code == 200


def test_failed_logins_are_limited_per_account_across_addresses(limited: Any) -> None:
    client = limited.client
    email = unique_email("spread")
    assert _signup(client, "10.9.2.1", email).status_code == 201
    statuses = [_login(client, f"10.9.3.{i}", email, "wrong password").status_code for i in range(20)]
    assert statuses == [401] * 20
    assert _login(client, "10.9.4.1", email).status_code == 429
    assert _login(client, "10.9.4.1", email.upper()).status_code == 429  # the same account
    # Unknown accounts are counted the same way, so a 429 says nothing about which emails exist.
    ghost = unique_email("ghost")
    assert [_login(client, f"10.9.5.{i}", ghost, "x" * 8).status_code for i in range(21)] == [401] * 20 + [429]
    other = unique_email("other")
    assert _signup(client, "10.9.2.1", other).status_code == 201
    assert _login(client, "10.9.4.1", other).status_code == 200
    limited.clock[0] += 3601
    assert _login(client, "10.9.4.1", email).status_code == 200
