"""Abuse limits: JSON body caps, the spec's rate limits (REST and socket sharing one send budget, shared
through Redis when REDIS_URL is set), bounded page sizes and literal (never regex) search text."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from chatbox.errors import ApiError
from chatbox.ratelimit import RateLimiter
from config import build_config
from tests.support.api import PASSWORD, ApiClient, unique_email
from tests.support.database import empty_database
from tests.support.files import PNG
from tests.support.served import served_app
from tests.support.sockets import LiveApi, Socket


@pytest.fixture
def own_apps() -> Iterator[None]:
    """For tests that build their own apps: leave the shared in-memory database empty behind them."""
    yield
    empty_database()


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Stop the rate limiter's clock, so that "a burst" means the same thing on any machine."""
    import limits.storage.memory

    import chatbox.ratelimit

    now = [time.time()]
    clock = SimpleNamespace(time=lambda: now[0])
    monkeypatch.setattr(limits.storage.memory, "time", clock)
    monkeypatch.setattr(chatbox.ratelimit, "time", clock)
    return now


# --- body size --------------------------------------------------------------------------------------


def test_json_body_over_the_cap_is_413_before_anything_else(app: Any, api: ApiClient) -> None:
    cap = app.config["MAX_JSON_BYTES"]
    user = api.signup("Big")
    other = api.signup("Other")
    for method, path, who in (
        ("POST", "/api/auth/login", None),
        ("POST", "/api/auth/signup", None),
        ("POST", f"/api/messages/send/{other.id}", user),
        ("POST", "/api/push/register-fcm", user),
    ):
        response = api.request(method, path, who, json={"text": "x" * cap, "token": "t", "email": "a@b.co"})
        assert response.status_code == 413, (path, response.get_json())
        assert response.get_json()["code"] == "body_too_large" and response.get_json()["message"]
    just_under = {"email": user.email, "password": "wrong password", "padding": "p" * (cap - 200)}
    assert api.post("/api/auth/login", json=just_under).status_code == 401


def test_a_profile_picture_may_come_as_a_data_url_larger_than_the_json_cap(app: Any, api: ApiClient) -> None:
    user = api.signup("Pic")
    picture = PNG + b"\0" * (2 * app.config["MAX_JSON_BYTES"])
    data_url = "data:image/png;base64," + base64.b64encode(picture).decode()
    response = api.put("/api/auth/update-profile", user, json={"profilePic": data_url})
    assert response.status_code == 200, response.get_json()
    stored = api.get(response.get_json()["profilePic"], user)
    assert stored.status_code == 200 and stored.data == picture
    # The same body anywhere else is refused.
    assert api.post("/api/push/register-fcm", user, json={"token": data_url}).status_code == 413


def test_a_body_without_content_length_is_capped_while_read(app: Any, api: ApiClient) -> None:
    cap = app.config["MAX_JSON_BYTES"]
    payload = b'{"email": "a@b.co", "password": "' + b"x" * cap + b'"}'
    response = api.client.post(
        "/api/auth/login",
        input_stream=io.BytesIO(payload),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        # What servers that accept chunked bodies (gunicorn, gevent) tell the app.
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413 and response.get_json()["code"] == "body_too_large"
    fits = b'{"email": "a@b.co", "password": "wrong password"}'
    response = api.client.post(
        "/api/auth/login",
        input_stream=io.BytesIO(fits),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 401


def test_uploads_are_not_held_to_the_json_cap(app: Any, api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    text = b"line of text\n" * (2 * app.config["MAX_JSON_BYTES"] // 13)
    form = {"text": "a big file", "file": (io.BytesIO(text), "big.txt")}
    response = api.post(f"/api/messages/send/{bob.id}", alice, data=form)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["attachments"][0]["size"] == len(text)


# --- rate limits --------------------------------------------------------------------------------------


def test_spec_rate_limits_are_the_defaults() -> None:
    config = build_config({"CHATBOX_ENV": "testing"})
    assert config["RATELIMIT_ENABLED"] is True
    assert config["RATELIMIT_AUTH"] == "10/minute"
    assert config["RATELIMIT_SEND"] == "20/second"


def test_signup_is_limited_per_address(tmp_path: Any, frozen_clock: list[float], own_apps: None) -> None:
    from chatbox import create_app

    client = create_app({"UPLOAD_DIR": str(tmp_path), "RATELIMIT_ENABLED": True}).test_client()

    def signup(address: str) -> Any:
        body = {"fullName": "Spam", "email": unique_email("spam"), "password": PASSWORD}
        return client.post("/api/auth/signup", json=body, environ_base={"REMOTE_ADDR": address})

    assert [signup("10.1.1.1").status_code for _ in range(10)] == [201] * 10
    limited = signup("10.1.1.1")
    assert limited.status_code == 429 and limited.get_json()["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert signup("10.1.1.2").status_code == 201
    frozen_clock[0] += 61
    assert signup("10.1.1.1").status_code == 201


def test_behind_a_proxy_the_limit_counts_client_addresses(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, frozen_clock: list[float], own_apps: None
) -> None:
    from chatbox import create_app

    monkeypatch.setenv("PROXY_FIX_HOPS", "1")
    client = create_app({"UPLOAD_DIR": str(tmp_path), "RATELIMIT_ENABLED": True}).test_client()

    def login(client_address: str) -> int:
        return client.post(
            "/api/auth/login",
            json={"email": "nobody@example.com", "password": "wrong password"},
            headers={"X-Forwarded-For": client_address},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},  # the proxy
        ).status_code

    assert [login("203.0.113.7") for _ in range(11)] == [401] * 10 + [429]
    assert login("203.0.113.8") == 401


def test_21st_send_in_a_burst_is_429_across_rest_and_socket(
    tmp_path: Any, frozen_clock: list[float], own_apps: None
) -> None:
    with served_app(tmp_path, {"RATELIMIT_ENABLED": True}) as (_app, url):
        live = LiveApi(url)
        alice, bob, carol = live.signup("Alice"), live.signup("Bob"), live.signup("Carol")
        socket = Socket(url, alice)
        try:
            for i in range(10):
                assert live.call("POST", f"/api/messages/send/{bob.id}", alice, json={"text": f"r{i}"}).ok
                ack = socket.call("new-message", {"to": bob.id, "text": f"s{i}"})
                assert ack["ok"] is True, ack
            refused = socket.call("new-message", {"to": bob.id, "text": "one too many"})
            assert refused["ok"] is False and refused["code"] == "rate_limited" and refused["message"]
            response = live.call("POST", f"/api/messages/send/{bob.id}", alice, json={"text": "one too many"})
            assert response.status_code == 429
            assert response.json()["code"] == "rate_limited" and int(response.headers["Retry-After"]) >= 1
            # The budget is per sender: others are not affected.
            assert live.call("POST", f"/api/messages/send/{bob.id}", carol, json={"text": "hi"}).status_code == 201
            frozen_clock[0] += 1.5
            assert live.call("POST", f"/api/messages/send/{bob.id}", alice, json={"text": "later"}).status_code == 201
            history = live.call("GET", f"/api/messages/{alice.id}", bob).json()
            assert "one too many" not in [m["text"] for m in history]
        finally:
            socket.close()


def test_rate_limits_are_shared_through_redis(tmp_path: Any) -> None:
    from chatbox.processes import start_redis_server

    server = start_redis_server(tmp_path)
    try:
        first, second = RateLimiter(True, server.url), RateLimiter(True, server.url)
        for limiter in (first, second) * 5:
            limiter.hit("10/minute", "auth", "10.2.2.2")
        with pytest.raises(ApiError) as refused:
            second.hit("10/minute", "auth", "10.2.2.2")
        assert refused.value.status == 429 and int(refused.value.headers["Retry-After"]) >= 1
        first.hit("10/minute", "auth", "10.2.2.3")
    finally:
        server.stop()


# --- bounded pages and literal search ---------------------------------------------------------------


@pytest.fixture
def chatty(api: ApiClient) -> Iterator[Any]:
    me = api.signup("Me")
    dotted = api.signup("Dot .* Star", email=unique_email("dotted"))
    plain = api.signup("Plain Person")
    nested = api.signup("aaaa(a+)+$", email=unique_email("nested"))
    for other in (dotted, plain, nested):
        api.send(me, other, "hello")
    api.send(me, plain, "regex (a+)+$ literal")
    api.send(me, plain, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!")
    yield SimpleNamespace(me=me, dotted=dotted, plain=plain, nested=nested)


def test_limit_is_bounded(api: ApiClient, chatty: Any) -> None:
    me, plain = chatty.me, chatty.plain
    for path in ("/api/messages/contacts", "/api/messages/chats", f"/api/messages/{plain.id}"):
        for bad in ("101", "0", "-1", "many", "1e9"):
            response = api.get(path, me, query_string={"limit": bad})
            assert response.status_code == 400, (path, bad)
            assert response.get_json()["code"] == "validation_error" and "limit" in response.get_json()["details"]
        assert api.get(path, me, query_string={"limit": "100"}).status_code == 200
    search = f"/api/messages/search/{plain.id}"
    assert api.get(search, me, query_string={"q": "hello", "limit": "101"}).status_code == 400
    assert api.get(search, me, query_string={"q": "x" * 101}).status_code == 400


def test_contacts_and_chats_match_regex_characters_literally(api: ApiClient, chatty: Any) -> None:
    me = chatty.me

    def names(path: str, q: str) -> list[str]:
        response = api.get(path, me, query_string={"q": q})
        assert response.status_code == 200
        return [item.get("fullName") or item["user"]["fullName"] for item in response.get_json()]

    for path in ("/api/messages/contacts", "/api/messages/chats"):
        assert names(path, ".*") == ["Dot .* Star"]
        assert names(path, "(a+)+$") == ["aaaa(a+)+$"]
        assert names(path, "^Plain") == []
        assert names(path, "[") == []


def test_message_search_matches_regex_characters_literally(api: ApiClient, chatty: Any) -> None:
    me, plain = chatty.me, chatty.plain

    def texts(q: str) -> list[str]:
        response = api.get(f"/api/messages/search/{plain.id}", me, query_string={"q": q})
        assert response.status_code == 200
        return [m["text"] for m in response.get_json()]

    assert texts("(a+)+$") == ["regex (a+)+$ literal"]
    assert texts(".*") == []
    assert texts("a+") == ["regex (a+)+$ literal"]
    assert texts("(") == ["regex (a+)+$ literal"]
