from __future__ import annotations

import base64
import io

from tests.support.api import PASSWORD, ApiClient, unique_email

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_signup_returns_public_user_token_and_cookie(api: ApiClient) -> None:
    response = api.post(
        "/api/auth/signup", json={"fullName": " Ada ", "email": "Ada@Example.COM", "password": PASSWORD}
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["email"] == "ada@example.com"
    assert body["fullName"] == "Ada"
    assert set(body) == {
        "_id",
        "fullName",
        "email",
        "profilePic",
        "lastSeen",
        "isOnline",
        "createdAt",
        "isAdmin",
        "token",
    }
    assert body["profilePic"] == "" and body["createdAt"].endswith("Z")
    cookie = response.headers.get("Set-Cookie", "")
    assert cookie.startswith("jwt=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "password" not in response.get_data(as_text=True).lower()


def test_duplicate_email_is_409_whatever_the_case(api: ApiClient) -> None:
    api.signup("A", email="dup@example.com")
    response = api.post("/api/auth/signup", json={"fullName": "B", "email": "DUP@example.com", "password": PASSWORD})
    assert response.status_code == 409
    assert response.get_json()["code"] == "email_taken"


def test_signup_validation(api: ApiClient) -> None:
    cases = [
        {"fullName": "A", "email": "not-an-email", "password": PASSWORD},
        {"fullName": "A", "email": unique_email(), "password": "short"},
        {"fullName": "", "email": unique_email(), "password": PASSWORD},
        {"fullName": "   ", "email": unique_email(), "password": PASSWORD},
        {"fullName": "x" * 61, "email": unique_email(), "password": PASSWORD},
        {"fullName": "A", "email": {"$ne": ""}, "password": PASSWORD},
        {"fullName": "A", "email": unique_email(), "password": "é" * 40},
        {"email": unique_email(), "password": PASSWORD},
    ]
    for body in cases:
        response = api.post("/api/auth/signup", json=body)
        assert response.status_code == 400, body
        payload = response.get_json()
        assert payload["code"] == "validation_error" and payload["message"] and payload["details"]


def test_malformed_json_is_400(api: ApiClient) -> None:
    response = api.post("/api/auth/login", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["code"] in {"invalid_json", "validation_error"}


def test_login_and_same_401_for_unknown_email_or_wrong_password(api: ApiClient) -> None:
    user = api.signup("Bob")
    ok = api.post("/api/auth/login", json={"email": user.email.upper(), "password": PASSWORD})
    assert ok.status_code == 200 and ok.get_json()["token"]
    wrong = api.post("/api/auth/login", json={"email": user.email, "password": "wrong password"})
    unknown = api.post("/api/auth/login", json={"email": "nobody@example.com", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()


def test_login_rejects_operator_injection(api: ApiClient) -> None:
    api.signup("Eve")
    response = api.post("/api/auth/login", json={"email": {"$ne": ""}, "password": {"$ne": ""}})
    assert response.status_code == 400


def test_check_with_header_and_with_cookie(app, api: ApiClient) -> None:  # type: ignore[no-untyped-def]
    user = api.signup("Cat")
    assert api.get("/api/auth/check", user).get_json()["_id"] == user.id
    browser = app.test_client()
    browser.set_cookie("jwt", user.token, domain="localhost")
    response = browser.get("/api/auth/check")
    assert response.status_code == 200 and response.get_json()["email"] == user.email
    assert "passwordHash" not in response.get_json()


def test_missing_and_bad_tokens_are_401(api: ApiClient) -> None:
    assert api.get("/api/auth/check").status_code == 401
    bad = api.get("/api/auth/check", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401 and bad.get_json()["code"] == "invalid_token"


def test_expired_token_is_401(app, api: ApiClient) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from flask_jwt_extended import create_access_token

    user = api.signup("Old")
    with app.app_context():
        token = create_access_token(identity=user.id, additional_claims={"ver": 0}, expires_delta=timedelta(seconds=-5))
    response = api.get("/api/auth/check", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.get_json()["code"] == "token_expired"


def test_logout_revokes_the_token_and_clears_the_cookie(api: ApiClient) -> None:
    user = api.signup("Dan")
    other_session = api.post("/api/auth/login", json={"email": user.email, "password": PASSWORD}).get_json()["token"]
    response = api.post("/api/auth/logout", user)
    assert response.status_code == 200
    assert "jwt=;" in response.headers.get("Set-Cookie", "")
    refused = api.get("/api/auth/check", user)
    assert refused.status_code == 401 and refused.get_json()["code"] == "token_revoked"
    assert api.get("/api/auth/check", headers={"Authorization": f"Bearer {other_session}"}).status_code == 200


def test_change_password_invalidates_older_tokens(api: ApiClient) -> None:
    user = api.signup("Eve")
    wrong = api.put(
        "/api/auth/change-password", user, json={"currentPassword": "nope nope", "newPassword": "another pass"}
    )
    assert wrong.status_code == 400
    response = api.put(
        "/api/auth/change-password", user, json={"currentPassword": PASSWORD, "newPassword": "another pass"}
    )
    assert response.status_code == 200
    new_token = response.get_json()["token"]
    old = api.get("/api/auth/check", user)
    assert old.status_code == 401 and old.get_json()["code"] == "token_outdated"
    assert api.get("/api/auth/check", headers={"Authorization": f"Bearer {new_token}"}).status_code == 200
    assert api.post("/api/auth/login", json={"email": user.email, "password": PASSWORD}).status_code == 401
    assert api.post("/api/auth/login", json={"email": user.email, "password": "another pass"}).status_code == 200


def test_deactivated_or_blocked_account_gets_403(app, api: ApiClient) -> None:  # type: ignore[no-untyped-def]
    runner = app.test_cli_runner()
    for action, code in (("deactivate", "account_deactivated"), ("block", "account_blocked")):
        user = api.signup("Fay")
        result = runner.invoke(args=["users", action, user.email])
        assert result.exit_code == 0, result.output
        response = api.get("/api/auth/check", user)
        assert response.status_code == 403 and response.get_json()["code"] == code
        login = api.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
        assert login.status_code == 403
        undo = "activate" if action == "deactivate" else "unblock"
        assert runner.invoke(args=["users", undo, user.email]).exit_code == 0
        assert api.get("/api/auth/check", user).status_code == 200
    assert runner.invoke(args=["users", "block", "nobody@example.com"]).exit_code != 0


def test_update_profile_with_multipart_image(api: ApiClient) -> None:
    user = api.signup("Gus")
    response = api.put(
        "/api/auth/update-profile",
        user,
        data={"profilePic": (io.BytesIO(PNG_1PX), "me.png"), "fullName": "Gus Two"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["fullName"] == "Gus Two" and body["profilePic"].startswith("/api/files/")
    other = api.signup("Hal")
    picture = api.get(body["profilePic"], other)
    assert picture.status_code == 200 and picture.data == PNG_1PX and picture.mimetype == "image/png"


def test_update_profile_with_data_url_and_bad_inputs(api: ApiClient) -> None:
    user = api.signup("Ivy")
    data_url = "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()
    response = api.put("/api/auth/update-profile", user, json={"profilePic": data_url})
    assert response.status_code == 200 and response.get_json()["profilePic"].startswith("/api/files/")
    gif = "data:image/gif;base64," + base64.b64encode(b"GIF89a").decode()
    assert api.put("/api/auth/update-profile", user, json={"profilePic": gif}).status_code == 415
    fake_png = "data:image/png;base64," + base64.b64encode(b"PK\x03\x04 not a png").decode()
    assert api.put("/api/auth/update-profile", user, json={"profilePic": fake_png}).status_code == 415
    assert (
        api.put("/api/auth/update-profile", user, json={"profilePic": "data:image/png;base64,@@@"}).status_code == 400
    )
    assert api.put("/api/auth/update-profile", user, json={}).status_code == 400
    assert api.put("/api/auth/update-profile", user, json={"fullName": 5}).status_code == 400
    renamed = api.put("/api/auth/update-profile", user, json={"fullName": "Ivy Two"})
    assert renamed.status_code == 200 and renamed.get_json()["fullName"] == "Ivy Two"


def test_unknown_route_and_method_are_json(api: ApiClient) -> None:
    missing = api.get("/api/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["code"] == "not_found"
    wrong_method = api.get("/api/auth/login")
    assert wrong_method.status_code == 405 and wrong_method.get_json()["code"] == "method_not_allowed"


def test_unexpected_error_is_json_500_without_trace(app, api: ApiClient) -> None:  # type: ignore[no-untyped-def]
    @app.route("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    response = api.get("/boom")
    assert response.status_code == 500
    assert response.get_json() == {"message": "Something went wrong on our side.", "code": "internal_error"}
    assert "secret internals" not in response.get_data(as_text=True)


def test_rate_limit_on_login(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from chatbox import create_app

    app = create_app({"UPLOAD_DIR": str(tmp_path), "RATELIMIT_ENABLED": True})
    app.extensions["chatbox"].limiter.enabled = True
    client = app.test_client()
    statuses = [
        client.post(
            "/api/auth/login",
            json={"email": "x@example.com", "password": "whatever1"},
            environ_base={"REMOTE_ADDR": "10.9.8.7"},
        ).status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429
    limited = client.post(
        "/api/auth/login",
        json={"email": "x@example.com", "password": "whatever1"},
        environ_base={"REMOTE_ADDR": "10.9.8.7"},
    )
    assert limited.get_json()["code"] == "rate_limited" and int(limited.headers["Retry-After"]) >= 1
    other_address = client.post(
        "/api/auth/login",
        json={"email": "x@example.com", "password": "whatever1"},
        environ_base={"REMOTE_ADDR": "10.9.8.8"},
    )
    assert other_address.status_code == 401


def test_healthz_and_openapi(api: ApiClient) -> None:
    health = api.get("/healthz")
    assert health.status_code == 200 and health.get_json() == {"status": "ok", "database": "ok", "queue": "disabled"}
    spec = api.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for path in (
        "/api/auth/signup",
        "/api/messages/send/{userId}",
        "/api/users/block/{userId}",
        "/api/push/register-fcm",
    ):
        assert path in spec["paths"], path
    assert api.get("/api/docs").status_code == 200


def test_cors_allows_only_client_url(api: ApiClient) -> None:
    allowed = api.client.options(
        "/api/auth/login", headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"}
    )
    assert allowed.headers.get("Access-Control-Allow-Origin") == "http://localhost:5173"
    assert allowed.headers.get("Access-Control-Allow-Credentials") == "true"
    denied = api.client.options(
        "/api/auth/login", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in denied.headers


def test_the_cookie_lives_as_long_as_the_token(api: ApiClient) -> None:
    response = api.post(
        "/api/auth/signup", json={"fullName": "Kim", "email": unique_email("kim"), "password": PASSWORD}
    )
    assert "Max-Age=604800" in response.headers["Set-Cookie"]
