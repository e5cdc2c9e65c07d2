"""Push notifications: device registration, who gets a push and what it says, FCM message building and pruning."""

from __future__ import annotations

import base64
import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import firebase_admin
import pytest
import requests
import socketio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from firebase_admin import exceptions, messaging

from chatbox.models import DeviceToken, Message
from chatbox.push.fcm import MULTICAST_LIMIT, FcmSender, build_multicast
from chatbox.push.notification import Notification
from chatbox.push.sender import LoggingSender
from config import ConfigError
from tests.support.api import ApiClient, User
from tests.support.live import LiveServer

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PROJECT_ID = "chatbox-push-test"


@dataclass
class RecordingSender:
    sent: list[tuple[list[str], Notification]] = field(default_factory=list)
    dead: set[str] = field(default_factory=set)

    def send(self, tokens: list[str], notification: Notification) -> set[str]:
        self.sent.append((list(tokens), notification))
        return self.dead & set(tokens)


class RaisingSender:
    def __init__(self) -> None:
        self.calls = 0

    def send(self, tokens: list[str], notification: Notification) -> set[str]:
        self.calls += 1
        raise RuntimeError("FCM is down")


def push_service(app: Any) -> Any:
    return app.extensions["chatbox"].push


def recording(app: Any) -> RecordingSender:
    sender = RecordingSender()
    push_service(app).sender = sender
    return sender


def settle(app: Any) -> None:
    """Wait for the background push tasks the requests so far have started."""
    assert push_service(app).wait_idle(timeout=10)


def register(api: ApiClient, user: User, token: str, platform: str | None = "android") -> None:
    body: dict[str, Any] = {"token": token}
    if platform:
        body["platform"] = platform
    response = api.post("/api/push/register-fcm", user, json=body)
    assert response.status_code == 200, response.get_json()


def tokens_of(user: User) -> set[str]:
    return {d.token for d in DeviceToken.objects(user_id=user.id)}


def pair(api: ApiClient) -> tuple[User, User]:
    return api.signup("Alice Sender"), api.signup("Bob Receiver")


# --- who gets a push ------------------------------------------------------------------------------


def test_offline_receiver_gets_a_push_on_every_device(app: Any, api: ApiClient) -> None:
    sent = recording(app)
    alice, bob = pair(api)
    register(api, bob, "bob-phone", "android")
    register(api, bob, "bob-tablet", "ios")
    register(api, alice, "alice-phone")

    response = api.send(alice, bob, "hello Bob")
    assert response.status_code == 201
    message = response.get_json()
    settle(app)

    assert len(sent.sent) == 1
    tokens, notification = sent.sent[0]
    assert sorted(tokens) == ["bob-phone", "bob-tablet"]
    assert notification.title == "Alice Sender"
    assert notification.body == "hello Bob"
    assert notification.data == {
        "type": "message",
        "chatId": message["chatId"],
        "messageId": message["_id"],
        "senderId": alice.id,
    }
    assert notification.collapse_key == f"chat-{message['chatId']}"


def test_no_push_while_the_receiver_has_a_connected_socket(app: Any, api: ApiClient) -> None:
    sent = recording(app)
    alice, bob = pair(api)
    register(api, bob, "bob-phone")
    presence = app.extensions["chatbox"].presence

    presence.add_connection(bob.id, "sid1")
    assert api.send(alice, bob, "you are online").status_code == 201
    settle(app)
    assert sent.sent == []

    presence.remove_connection(bob.id, "sid1")
    assert api.send(alice, bob, "now you are not").status_code == 201
    settle(app)
    assert [n.body for _, n in sent.sent] == ["now you are not"]


def test_a_receiver_without_devices_costs_no_send(app: Any, api: ApiClient) -> None:
    sent = recording(app)
    alice, bob = pair(api)
    assert api.send(alice, bob, "anyone there?").status_code == 201
    settle(app)
    assert sent.sent == []


def test_no_push_across_a_block(app: Any, api: ApiClient) -> None:
    sent = recording(app)
    alice, bob = pair(api)
    register(api, bob, "bob-phone")
    register(api, alice, "alice-phone")
    assert api.post(f"/api/users/block/{alice.id}", bob).status_code == 200

    blocked = api.send(alice, bob, "let me in")
    assert blocked.status_code == 403 and blocked.get_json()["code"] == "blocked"
    reverse = api.send(bob, alice, "I blocked you but write anyway")
    assert reverse.status_code == 403 and reverse.get_json()["code"] == "blocked"
    settle(app)
    assert sent.sent == []

    assert api.post(f"/api/users/unblock/{alice.id}", bob).status_code == 200
    assert api.send(alice, bob, "unblocked").status_code == 201
    settle(app)
    assert [(t, n.body) for t, n in sent.sent] == [(["bob-phone"], "unblocked")]


# --- what the push says ----------------------------------------------------------------------------


def test_text_body_is_cut_to_100_characters(app: Any, api: ApiClient) -> None:
    sent = recording(app)
    alice, bob = pair(api)
    register(api, bob, "bob-phone")
    long_text = "".join(chr(ord("a") + i % 26) for i in range(150))
    exactly_100 = "x" * 100

    assert api.send(alice, bob, long_text).status_code == 201
    assert api.send(alice, bob, exactly_100).status_code == 201
    settle(app)

    cut, whole = (n.body for _, n in sent.sent)
    assert len(cut) == 100 and cut.startswith(long_text[:99]) and cut != long_text[:100] + "…"
    assert whole == exactly_100


def test_photo_and_file_bodies(app: Any, api: ApiClient) -> None:
    sent = recording(app)
    alice, bob = pair(api)
    register(api, bob, "bob-phone")
    path = f"/api/messages/send/{bob.id}"

    photo = api.post(path, alice, data={"images": (io.BytesIO(PNG_1PX), "dot.png")}, content_type="multipart/form-data")
    assert photo.status_code == 201, photo.get_json()
    document = api.post(
        path, alice, data={"file": (io.BytesIO(b"meeting notes\n"), "notes.txt")}, content_type="multipart/form-data"
    )
    assert document.status_code == 201, document.get_json()
    captioned = api.post(
        path,
        alice,
        data={"text": "look at this", "images": (io.BytesIO(PNG_1PX), "dot.png")},
        content_type="multipart/form-data",
    )
    assert captioned.status_code == 201
    settle(app)

    assert [n.body for _, n in sent.sent] == ["📷 Photo", "📎 File", "look at this"]
    assert sent.sent[0][1].data["messageId"] == photo.get_json()["_id"]
    assert sent.sent[1][1].data["messageId"] == document.get_json()["_id"]


# --- never in the way of the message --------------------------------------------------------------


def test_a_failing_sender_never_breaks_the_send(app: Any, api: ApiClient) -> None:
    raising = RaisingSender()
    push_service(app).sender = raising
    alice, bob = pair(api)
    register(api, bob, "bob-phone")

    response = api.send(alice, bob, "stored anyway")
    assert response.status_code == 201
    settle(app)
    assert raising.calls == 1
    history = api.get(f"/api/messages/{alice.id}", bob).get_json()
    assert [m["text"] for m in history] == ["stored anyway"]
    assert Message.objects(id=response.get_json()["_id"]).count() == 1
    assert tokens_of(bob) == {"bob-phone"}


def test_a_failing_task_start_never_breaks_the_send(app: Any, api: ApiClient) -> None:
    sent = recording(app)
    alice, bob = pair(api)
    register(api, bob, "bob-phone")

    def no_greenlets(job: Any) -> None:
        raise RuntimeError("cannot spawn")

    push_service(app)._spawn = no_greenlets
    response = api.send(alice, bob, "still stored")
    assert response.status_code == 201
    assert push_service(app).wait_idle(timeout=10)
    assert sent.sent == []
    assert [m["text"] for m in api.get(f"/api/messages/{alice.id}", bob).get_json()] == ["still stored"]


def test_sending_happens_after_the_response(app: Any, api: ApiClient) -> None:
    """The sender blocks until the test lets it go, which it does only once the 201 is back."""
    released = threading.Event()
    outcome: list[str] = []

    class BlockingSender:
        def send(self, tokens: list[str], notification: Notification) -> set[str]:
            # The timeout only keeps a broken implementation from hanging the suite.
            outcome.append("released" if released.wait(timeout=5) else "sent inside the request")
            return set()

    push_service(app).sender = BlockingSender()
    alice, bob = pair(api)
    register(api, bob, "bob-phone")

    response = api.send(alice, bob, "do not wait for FCM")
    assert response.status_code == 201
    assert outcome == []
    released.set()
    settle(app)
    assert outcome == ["released"]


# --- device registration -----------------------------------------------------------------------------


def test_register_is_idempotent_and_unregister_removes(app: Any, api: ApiClient) -> None:
    sent = recording(app)
    alice, bob = pair(api)
    register(api, bob, "bob-phone", "android")
    register(api, bob, "bob-phone", "android")
    register(api, bob, "bob-phone", None)
    assert DeviceToken.objects(token="bob-phone").count() == 1
    assert tokens_of(bob) == {"bob-phone"}

    assert api.send(alice, bob, "once").status_code == 201
    settle(app)
    assert [t for t, _ in sent.sent] == [["bob-phone"]]

    # Someone else cannot unregister my device.
    assert api.post("/api/push/unregister-fcm", alice, json={"token": "bob-phone"}).status_code == 200
    assert tokens_of(bob) == {"bob-phone"}
    for _ in range(2):
        assert api.post("/api/push/unregister-fcm", bob, json={"token": "bob-phone"}).status_code == 200
    assert tokens_of(bob) == set()

    assert api.send(alice, bob, "nobody hears").status_code == 201
    settle(app)
    assert len(sent.sent) == 1


def test_register_validation_and_auth(api: ApiClient) -> None:
    user = api.signup("Val")
    assert api.post("/api/push/register-fcm", json={"token": "t"}).status_code == 401
    for body in ({}, {"token": ""}, {"token": {"$ne": ""}}, {"token": "t", "platform": "symbian"}):
        response = api.post("/api/push/register-fcm", user, json=body)
        assert response.status_code == 400, body
    assert api.post("/api/push/unregister-fcm", user, json={}).status_code == 400
    assert DeviceToken.objects.count() == 0


def test_a_token_moves_to_the_account_that_registers_it(app: Any, api: ApiClient) -> None:
    sent = recording(app)
    alice, bob = pair(api)
    carol = api.signup("Carol")
    register(api, alice, "shared-phone")
    register(api, bob, "shared-phone")
    assert tokens_of(alice) == set()
    assert tokens_of(bob) == {"shared-phone"}

    assert api.send(carol, alice, "for Alice").status_code == 201
    assert api.send(carol, bob, "for Bob").status_code == 201
    settle(app)
    assert [(t, n.body) for t, n in sent.sent] == [(["shared-phone"], "for Bob")]


def test_device_cap_drops_the_least_recently_registered(
    app: Any, api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = iter(datetime(2030, 1, 1) + timedelta(seconds=i) for i in range(1000))
    monkeypatch.setattr("chatbox.push.actions.utcnow", lambda: next(ticks))
    app.config["MAX_DEVICES_PER_USER"] = 3
    alice, bob = pair(api)
    for token in ("one", "two", "three"):
        register(api, bob, token)
    register(api, bob, "one")  # refreshed: now the most recent
    register(api, bob, "four")
    assert tokens_of(bob) == {"one", "three", "four"}
    register(api, bob, "five")
    assert tokens_of(bob) == {"one", "four", "five"}

    # Another user's devices are not counted against mine.
    register(api, alice, "alice-phone")
    assert tokens_of(bob) == {"one", "four", "five"}


def test_default_device_cap_is_ten(app: Any, api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = iter(datetime(2030, 1, 1) + timedelta(seconds=i) for i in range(1000))
    monkeypatch.setattr("chatbox.push.actions.utcnow", lambda: next(ticks))
    bob = api.signup("Bob")
    for i in range(12):
        register(api, bob, f"device-{i}")
    assert tokens_of(bob) == {f"device-{i}" for i in range(2, 12)}


def test_logout_with_fcm_token_removes_that_device(api: ApiClient) -> None:
    bob = api.signup("Bob")
    register(api, bob, "bob-phone")
    register(api, bob, "bob-laptop", "web")
    response = api.post("/api/auth/logout", bob, json={"fcmToken": "bob-phone"})
    assert response.status_code == 200
    assert tokens_of(bob) == {"bob-laptop"}


# --- FCM through firebase-admin (no network: the send call is replaced) -------------------------------


@cache
def _service_account() -> dict[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": PROJECT_ID,
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": f"push@{PROJECT_ID}.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def _write_credentials(directory: Path, content: str | None = None) -> str:
    path = directory / "service-account.json"
    path.write_text(json.dumps(_service_account()) if content is None else content)
    return str(path)


@pytest.fixture
def fcm_app(app: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Any]:
    """A second app with real Firebase credentials (a throwaway key); the `app` fixture cleans the database."""
    from chatbox import create_app

    caplog.set_level(logging.INFO, logger="chatbox.push")
    credentials = _write_credentials(tmp_path)
    application = create_app(
        {"UPLOAD_DIR": str(tmp_path / "uploads"), "RATELIMIT_ENABLED": False, "FIREBASE_CREDENTIALS": credentials}
    )
    yield application
    firebase_admin.delete_app(application.extensions["chatbox"].push.sender.app)


class FakeFcm:
    """Stands in for `messaging.send_each_for_multicast`: records the calls, answers per token."""

    def __init__(self, errors: dict[str, exceptions.FirebaseError] | None = None) -> None:
        self.errors = errors or {}
        self.calls: list[tuple[messaging.MulticastMessage, Any]] = []

    def __call__(self, multicast: messaging.MulticastMessage, dry_run: bool = False, app: Any = None) -> Any:
        self.calls.append((multicast, app))
        responses = []
        for index, token in enumerate(multicast.tokens):
            error = self.errors.get(token)
            resp = None if error else {"name": f"projects/{PROJECT_ID}/messages/{index}"}
            responses.append(messaging.SendResponse(resp, error))
        return messaging.BatchResponse(responses)


def test_app_with_credentials_uses_fcm_and_says_so(fcm_app: Any, caplog: pytest.LogCaptureFixture) -> None:
    sender = fcm_app.extensions["chatbox"].push.sender
    assert isinstance(sender, FcmSender)
    assert sender.app.project_id == PROJECT_ID
    startup = caplog.get_records("setup")
    assert any("push sender: FCM via firebase-admin (project chatbox-push-test)" in r.getMessage() for r in startup)


def test_app_without_credentials_logs_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from chatbox import create_app

    caplog.set_level(logging.INFO, logger="chatbox.push")
    application = create_app({"UPLOAD_DIR": str(tmp_path / "uploads")})
    assert isinstance(application.extensions["chatbox"].push.sender, LoggingSender)
    assert any("FIREBASE_CREDENTIALS is not set" in r.getMessage() for r in caplog.records)


def test_one_firebase_app_per_credentials_file(fcm_app: Any, tmp_path: Path) -> None:
    from chatbox import create_app

    again = create_app(
        {"UPLOAD_DIR": str(tmp_path / "uploads"), "FIREBASE_CREDENTIALS": str(tmp_path / "x/../service-account.json")}
    )
    assert again.extensions["chatbox"].push.sender.app is fcm_app.extensions["chatbox"].push.sender.app
    assert fcm_app.extensions["chatbox"].push.sender.app.name != firebase_admin._DEFAULT_APP_NAME


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "No such file"),
        ("{not json", "FIREBASE_CREDENTIALS"),
        (json.dumps({"type": "authorized_user"}), "service_account"),
        (
            json.dumps({**_service_account(), "private_key": "-----BEGIN PRIVATE KEY-----\nbroken"}),
            "FIREBASE_CREDENTIALS",
        ),
        (json.dumps({k: v for k, v in _service_account().items() if k != "project_id"}), "project_id"),
    ],
    ids=["missing", "not-json", "not-a-service-account", "broken-key", "no-project"],
)
def test_broken_credentials_file_is_a_clear_startup_error(
    app: Any, tmp_path: Path, content: str | None, expected: str
) -> None:
    from chatbox import create_app

    path = str(tmp_path / "missing.json") if content is None else _write_credentials(tmp_path, content)
    with pytest.raises(ConfigError) as raised:
        create_app({"UPLOAD_DIR": str(tmp_path / "uploads"), "FIREBASE_CREDENTIALS": path})
    message = str(raised.value)
    assert "FIREBASE_CREDENTIALS" in message and path in message and expected in message


def test_the_multicast_message_has_the_right_fields() -> None:
    notification = Notification(
        title="Alice",
        body="hello",
        data={"type": "message", "chatId": "c" * 24, "messageId": "m" * 24, "senderId": "s" * 24},
        collapse_key="chat-" + "c" * 24,
    )
    multicast = build_multicast(["t1", "t2"], notification)

    assert isinstance(multicast, messaging.MulticastMessage)
    assert multicast.tokens == ["t1", "t2"]
    assert isinstance(multicast.notification, messaging.Notification)
    assert (multicast.notification.title, multicast.notification.body) == ("Alice", "hello")
    assert multicast.data == notification.data

    android = multicast.android
    assert isinstance(android, messaging.AndroidConfig)
    assert android.priority == "high" and android.collapse_key == notification.collapse_key
    assert isinstance(android.notification, messaging.AndroidNotification)
    assert android.notification.channel_id and android.notification.sound == "default"
    assert android.notification.tag == notification.collapse_key

    apns = multicast.apns
    assert isinstance(apns, messaging.APNSConfig)
    assert apns.headers["apns-priority"] == "10"
    assert apns.headers["apns-push-type"] == "alert"
    assert apns.headers["apns-collapse-id"] == notification.collapse_key
    assert isinstance(apns.payload.aps, messaging.Aps)
    assert apns.payload.aps.sound == "default"
    assert (apns.payload.aps.alert.title, apns.payload.aps.alert.body) == ("Alice", "hello")

    # firebase-admin's own encoder accepts it (it rejects bad priorities, headers, data types).
    single = messaging.Message(
        fid="t1",
        data=multicast.data,
        notification=multicast.notification,
        android=multicast.android,
        apns=multicast.apns,
        webpush=multicast.webpush,
    )
    encoded = json.loads(str(single))
    assert encoded["android"]["priority"] == "high"
    assert encoded["android"]["notification"]["channel_id"] == android.notification.channel_id
    assert encoded["apns"]["payload"]["aps"]["sound"] == "default"
    assert encoded["data"]["messageId"] == "m" * 24


def test_fcm_send_prunes_unregistered_and_invalid_tokens(fcm_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeFcm(
        {
            "gone": messaging.UnregisteredError("Requested entity was not found."),
            "garbled": exceptions.InvalidArgumentError("The registration token is not a valid FCM registration token"),
            "other-project": messaging.SenderIdMismatchError("SenderId mismatch"),
            "busy": exceptions.UnavailableError("try later"),
        }
    )
    monkeypatch.setattr(messaging, "send_each_for_multicast", fake)
    api = ApiClient(fcm_app.test_client())
    alice, bob = pair(api)
    for token in ("good", "gone", "garbled", "other-project", "busy"):
        register(api, bob, token)

    response = api.send(alice, bob, "hi from FCM")
    assert response.status_code == 201
    settle(fcm_app)

    assert len(fake.calls) == 1
    multicast, firebase_app = fake.calls[0]
    assert firebase_app is fcm_app.extensions["chatbox"].push.sender.app
    assert sorted(multicast.tokens) == ["busy", "garbled", "gone", "good", "other-project"]
    assert multicast.notification.title == "Alice Sender" and multicast.notification.body == "hi from FCM"
    assert multicast.data["messageId"] == response.get_json()["_id"]
    assert tokens_of(bob) == {"good", "busy"}


def test_a_payload_error_does_not_condemn_the_token(monkeypatch: pytest.MonkeyPatch, fcm_app: Any) -> None:
    fake = FakeFcm({"fine": exceptions.InvalidArgumentError("Invalid value at 'message.data'")})
    monkeypatch.setattr(messaging, "send_each_for_multicast", fake)
    sender = fcm_app.extensions["chatbox"].push.sender
    notification = Notification("A", "b", {"type": "message"}, "chat-1")
    assert sender.send(["fine"], notification) == set()


def test_fcm_sends_at_most_500_tokens_per_call(fcm_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = [f"token-{i}" for i in range(MULTICAST_LIMIT + 1)]
    fake = FakeFcm({"token-500": messaging.UnregisteredError("gone")})
    monkeypatch.setattr(messaging, "send_each_for_multicast", fake)
    sender = fcm_app.extensions["chatbox"].push.sender
    dead = sender.send(tokens, Notification("A", "b", {"type": "message"}, "chat-1"))
    assert [len(m.tokens) for m, _ in fake.calls] == [MULTICAST_LIMIT, 1]
    assert [t for m, _ in fake.calls for t in m.tokens] == tokens
    assert dead == {"token-500"}


# --- a real server and a real socket ------------------------------------------------------------------


def _wait_for(condition: Any, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def test_live_server_pushes_only_when_no_socket_is_connected(live_server: LiveServer) -> None:
    http = ApiClient(_RequestsClient(live_server.url))
    alice, bob = http.signup("Live Alice"), http.signup("Live Bob")
    register(http, bob, "live-bob-phone")

    client = socketio.Client(reconnection=False)
    client.connect(live_server.url, auth={"token": bob.token}, transports=["websocket"], wait_timeout=10)
    try:
        online = http.send(alice, bob, "while connected")
        assert online.status_code == 201
    finally:
        client.disconnect()

    def bob_offline() -> bool:
        users = http.get("/api/messages/contacts", alice, query_string={"q": bob.email}).get_json()
        return [u["isOnline"] for u in users] == [False]

    _wait_for(bob_offline, "Bob's socket to close")
    offline = http.send(alice, bob, "after disconnecting")
    assert offline.status_code == 201

    offline_id = offline.get_json()["_id"]
    _wait_for(lambda: f"message {offline_id} to 1 device(s)" in live_server.log(), "the offline push in the log")
    assert online.get_json()["_id"] not in live_server.log()
    assert "push sender: logging only (FIREBASE_CREDENTIALS is not set" in live_server.log()


class _RequestsClient:
    """Enough of Flask's test client over `requests` for ApiClient against a live server."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def open(
        self, path: str, method: str = "GET", headers: Any = None, json: Any = None, query_string: Any = None
    ) -> _Response:
        response = requests.request(
            method, self.base_url + path, headers=headers, json=json, params=query_string, timeout=10
        )
        return _Response(response)

    def post(self, path: str, json: Any = None, headers: Any = None) -> Any:
        return self.open(path, "POST", headers=headers, json=json)


class _Response:
    def __init__(self, response: requests.Response) -> None:
        self.status_code = response.status_code
        self._response = response

    def get_json(self) -> Any:
        return self._response.json()
