"""Security posture: response headers for a JSON API, cookie flags, CORS limited to CLIENT_URL, private
caching of files, and the production refusal of a missing or weak JWT_SECRET."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

from config import ConfigError, build_config
from tests.support.api import PASSWORD, ApiClient, unique_email
from tests.support.database import empty_database

STRONG_SECRET = "k3J9-wq8Zr2+VbX1yT6uN0pLm4sD7fGh"


@pytest.fixture
def production_app(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from chatbox import create_app
    from chatbox.db import connect_database

    monkeypatch.setenv("CHATBOX_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", STRONG_SECRET)
    monkeypatch.setenv("UPLOAD_DIR", str(tmp_path))
    monkeypatch.setenv("RATELIMIT_ENABLED", "false")
    monkeypatch.setenv("CLIENT_URL", "https://chat.example.com, https://m.chat.example.com")
    # Production needs MONGO_URI; this process already holds its (embedded) connection, which apps share.
    connect_database(None, "chatbox", 5000)
    monkeypatch.setenv("MONGO_URI", "mongodb://mongo.invalid/chatbox")
    monkeypatch.delenv("REDIS_URL", raising=False)
    yield create_app()
    empty_database()


def _signup(client: Any) -> Any:
    body = {"fullName": "Prod", "email": unique_email("prod"), "password": PASSWORD}
    response = client.post("/api/auth/signup", json=body)
    assert response.status_code == 201, response.get_json()
    return response


# --- headers -------------------------------------------------------------------------------------------


def test_json_answers_carry_api_security_headers(api: ApiClient) -> None:
    user = api.signup("Headers")
    for response in (
        api.get("/api/auth/check", user),
        api.get("/api/auth/check"),
        api.get("/api/messages/not-an-id", user),
        api.get("/api/no-such-route"),
    ):
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in headers  # only in production, behind TLS


def test_docs_page_keeps_working(api: ApiClient) -> None:
    page = api.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "default-src 'none'" not in page.headers.get("Content-Security-Policy", "")


def test_405_is_json_and_says_what_is_allowed(api: ApiClient) -> None:
    response = api.delete("/api/auth/login")
    assert response.status_code == 405 and response.get_json()["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"POST"}


def test_files_are_cached_privately_only(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    sent = api.post(
        f"/api/messages/send/{bob.id}", alice, data={"text": "", "file": (io.BytesIO(b"private notes\n"), "n.txt")}
    )
    url = sent.get_json()["attachments"][0]["url"]
    response = api.get(url, bob)
    assert response.status_code == 200 and response.data == b"private notes\n"
    cache = response.headers["Cache-Control"]
    assert "private" in cache and "public" not in cache
    assert {"Authorization", "Cookie"} <= {v.strip() for v in response.headers["Vary"].split(",")}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("attachment")


# --- cookies -------------------------------------------------------------------------------------------


def test_cookie_flags_in_development(api: ApiClient) -> None:
    response = api.post(
        "/api/auth/signup", json={"fullName": "Dev", "email": unique_email("dev"), "password": PASSWORD}
    )
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("jwt=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http on a developer's machine


def test_production_cookie_is_secure_and_hsts_is_sent(production_app: Any) -> None:
    client = production_app.test_client()
    signup = _signup(client)
    cookie = signup.headers["Set-Cookie"]
    assert cookie.startswith("jwt=")
    assert {"Secure", "HttpOnly", "SameSite=Lax"} <= {part.strip() for part in cookie.split(";")}
    assert signup.headers["Strict-Transport-Security"].startswith("max-age=")
    token = signup.get_json()["token"]
    logout = client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
    cleared = logout.headers["Set-Cookie"]
    assert cleared.startswith("jwt=;") and "Secure" in cleared and "HttpOnly" in cleared


def test_production_cors_allows_only_client_urls(production_app: Any) -> None:
    client = production_app.test_client()
    for origin in ("https://chat.example.com", "https://m.chat.example.com"):
        response = client.get("/api/auth/check", headers={"Origin": origin})
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
        exposed = {h.strip().lower() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
        assert {"x-next-cursor", "retry-after"} <= exposed
    for origin in ("https://evil.example", "http://chat.example.com", "https://chat.example.com.evil.example"):
        response = client.get("/api/auth/check", headers={"Origin": origin})
        assert "Access-Control-Allow-Origin" not in response.headers, origin
        preflight = client.options(
            "/api/auth/login", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
        )
        assert "Access-Control-Allow-Origin" not in preflight.headers, origin


# --- secrets -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "short", "secret", "changeme", "x" * 31])
def test_production_refuses_a_missing_or_weak_jwt_secret(secret: str | None) -> None:
    environ = {"CHATBOX_ENV": "production"} | ({} if secret is None else {"JWT_SECRET": secret})
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        build_config(environ)


def test_production_accepts_a_strong_secret_from_the_environment_only() -> None:
    config = build_config({"CHATBOX_ENV": "production", "JWT_SECRET": STRONG_SECRET, "MONGO_URI": "mongodb://db/x"})
    assert config["JWT_SECRET_KEY"] == STRONG_SECRET and config["JWT_COOKIE_SECURE"] is True
    assert config["JWT_COOKIE_SAMESITE"] == "Lax"


def test_create_app_refuses_to_start_in_production_without_a_secret(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatbox import create_app

    monkeypatch.setenv("CHATBOX_ENV", "production")
    monkeypatch.setenv("UPLOAD_DIR", str(tmp_path))
    monkeypatch.delenv("JWT_SECRET", raising=False)
    with pytest.raises(ConfigError):
        create_app()
    monkeypatch.setenv("JWT_SECRET", "password")
    with pytest.raises(ConfigError):
        create_app()


def test_production_refuses_the_in_memory_database() -> None:
    with pytest.raises(ConfigError, match=r"^MONGO_URI must be set in production"):
        build_config({"CHATBOX_ENV": "production", "JWT_SECRET": STRONG_SECRET})
    assert build_config({"CHATBOX_ENV": "development"})["MONGO_URI"] is None


def test_development_without_a_secret_gets_a_random_one_per_process() -> None:
    first = build_config({"CHATBOX_ENV": "development"})["JWT_SECRET_KEY"]
    second = build_config({"CHATBOX_ENV": "development"})["JWT_SECRET_KEY"]
    assert first != second and len(first) >= 32
