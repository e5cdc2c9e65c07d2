"""Socket.IO behaviour against a real server process (gunicorn + gevent-websocket) on a loopback port."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.support.live import LiveServer
from tests.support.sockets import LiveApi, LiveUser, Socket, refused, wait_until


@pytest.fixture
def live(live_server: LiveServer) -> LiveApi:
    return LiveApi(live_server.url)


@pytest.fixture
def sockets(live_server: LiveServer) -> Iterator[Any]:
    opened: list[Socket] = []

    def open_socket(user: LiveUser | None = None, **connect: Any) -> Socket:
        socket = Socket(live_server.url, user, **connect)
        opened.append(socket)
        return socket

    yield open_socket
    for socket in opened:
        socket.close()


def _sentinel(live: LiveApi, socket: Socket, to: LiveUser) -> None:
    """Send `to` a message from a fresh user and wait for it: anything emitted earlier has arrived by then."""
    stranger = live.signup("Sentinel")
    message = live.send(stranger, to, "sentinel")
    socket.wait_for("new-message", lambda m: m["_id"] == message["_id"])


# --- connecting -----------------------------------------------------------------------------------


def test_connect_with_token_in_auth_header_cookie_or_query(
    live: LiveApi, sockets: Any, live_server: LiveServer
) -> None:
    user = live.signup()
    for url, connect in (
        (live_server.url, {"auth": {"token": user.token}}),
        (live_server.url, {"headers": {"Authorization": f"Bearer {user.token}"}}),
        (live_server.url, {"headers": {"Cookie": f"jwt={user.token}"}}),
        (f"{live_server.url}?token={user.token}", {}),
        (f"{live_server.url}?token={user.token}", {"transports": ["polling"]}),
    ):
        socket = Socket(url, None, **connect)
        try:
            assert socket.client.connected
            assert socket.wait_for("online-users") == [[]]
        finally:
            socket.close()


def test_handshakes_and_frames_larger_than_the_servers_read_buffer(live: LiveApi, sockets: Any) -> None:
    """The server reads each connection through a small buffer (READ_BUFFER_BYTES): a handshake and
    websocket frames several times its size still arrive whole."""
    from chatbox.realtime.websocket import READ_BUFFER_BYTES

    alice, bob = live.signup("Alice"), live.signup("Bob")
    padding = "p" * (4 * READ_BUFFER_BYTES)
    alice_socket = sockets(alice, headers={"Authorization": f"Bearer {alice.token}", "X-Padding": padding})
    bob_socket = sockets(bob)
    text = "".join(chr(ord("a") + i % 26) for i in range(4 * READ_BUFFER_BYTES))
    ack = alice_socket.call("new-message", {"to": bob.id, "text": text, "clientMessageId": "big"})
    assert ack["ok"] is True and ack["message"]["text"] == text
    assert bob_socket.wait_for("new-message")[0]["text"] == text


def test_bad_tokens_are_refused_at_connect(live: LiveApi, live_server: LiveServer) -> None:
    from flask_jwt_extended import create_access_token

    from chatbox import create_app

    url = live_server.url
    assert refused(url) == {"message": "Unauthorized"}
    assert refused(url, auth={"token": "garbage"}) == {"message": "Unauthorized"}
    assert refused(url, headers={"Authorization": "Bearer garbage"}) == {"message": "Unauthorized"}

    expired_user = live.signup()
    signer = create_app({"JWT_SECRET_KEY": "live-test-secret-" + "x" * 32, "AUTO_CREATE_INDEXES": False})
    with signer.app_context():
        expired = create_access_token(
            identity=expired_user.id, additional_claims={"ver": 0}, expires_delta=timedelta(seconds=-10)
        )
    assert refused(url, auth={"token": expired}) == {"message": "Unauthorized"}

    logged_out = live.signup()
    assert live.call("POST", "/api/auth/logout", logged_out).status_code == 200
    assert refused(url, auth={"token": logged_out.token}) == {"message": "Unauthorized"}

    changed = live.signup()
    response = live.call(
        "PUT",
        "/api/auth/change-password",
        changed,
        json={"currentPassword": "correct horse battery", "newPassword": "a brand new one"},
    )
    assert response.status_code == 200
    assert refused(url, auth={"token": changed.token}) == {"message": "Unauthorized"}
    fresh = Socket(url, None, auth={"token": response.json()["token"]})
    assert fresh.client.connected
    fresh.close()


def test_deactivated_and_admin_blocked_accounts_cannot_connect(tmp_path: Any) -> None:
    from tests.support.served import served_app

    with served_app(tmp_path) as (app, url):
        live = LiveApi(url)
        runner = app.test_cli_runner()
        for action, undo in (("deactivate", "activate"), ("block", "unblock")):
            user = live.signup()
            assert runner.invoke(args=["users", action, user.email]).exit_code == 0
            assert refused(url, auth={"token": user.token}) == {"message": "Unauthorized"}
            assert runner.invoke(args=["users", undo, user.email]).exit_code == 0
            socket = Socket(url, user)
            assert socket.client.connected
            # An account switched off while connected is dropped at its next event.
            assert runner.invoke(args=["users", action, user.email]).exit_code == 0
            ack = socket.call("typing", {"to": user.id})
            assert (
                ack["ok"] is False
                and ack["code"] == {"deactivate": "account_deactivated", "block": "account_blocked"}[action]
            )
            wait_until(lambda s=socket: not s.client.connected, "the server drops the switched-off account")
            assert runner.invoke(args=["users", undo, user.email]).exit_code == 0


def test_sockets_are_dropped_when_their_token_is_revoked_or_outdated(live: LiveApi, sockets: Any) -> None:
    alice, bob = live.signup("Alice"), live.signup("Bob")
    live.send(bob, alice, "we share a chat")
    second_login = live.call(
        "POST", "/api/auth/login", json={"email": alice.email, "password": "correct horse battery"}
    ).json()["token"]
    phone, laptop = sockets(alice), sockets(None, auth={"token": second_login})
    bob_socket = sockets(bob)
    assert phone.call("typing", {"to": bob.id}) == {"ok": True}
    # Logging out the phone's token drops the phone's socket at once, though it sends nothing.
    assert live.call("POST", "/api/auth/logout", alice).status_code == 200
    wait_until(lambda: not phone.client.connected, "the logged-out socket to be dropped")
    assert laptop.client.connected and laptop.call("typing", {"to": bob.id}) == {"ok": True}
    # A password change drops every socket opened with an older token.
    changed = live.call(
        "PUT",
        "/api/auth/change-password",
        headers={"Authorization": f"Bearer {second_login}"},
        json={"currentPassword": "correct horse battery", "newPassword": "another long one"},
    )
    assert changed.status_code == 200
    wait_until(lambda: not laptop.client.connected, "the outdated socket to be dropped")
    offline = bob_socket.wait_for("user-offline", lambda d: d["userId"] == alice.id)
    assert offline and offline[0]["lastSeen"]


def test_connections_that_never_sign_in_are_closed_and_signed_in_ones_stay(tmp_path: Any) -> None:
    import gevent

    from tests.support.raw_websocket import TEXT, RawWebSocket
    from tests.support.served import served_app

    with served_app(tmp_path, {"SOCKET_CONNECT_TIMEOUT_SECONDS": 1}) as (app, url):
        closer = app.extensions["chatbox"].unclaimed_connections
        live = LiveApi(url)
        user = live.signup("Patient")
        silent, refused_once = RawWebSocket(url), RawWebSocket(url)
        signed_in = Socket(url, user)
        try:
            for raw in (silent, refused_once):
                assert raw.read_frame()[1].startswith(b"0{")  # Engine.IO's open packet
            # A refused CONNECT leaves the Engine.IO connection open for another try...
            refused_once.send_frame(TEXT, b'40{"token":"not-a-token"}')
            assert refused_once.read_frame() == (TEXT, b'44{"message":"Unauthorized"}')
            # ...but neither connection may stay without a signed-in session.
            silent.wait_closed()
            refused_once.wait_closed()
            gevent.sleep(2)
            assert signed_in.client.connected
            assert signed_in.call("message-read", {"messageId": "0" * 24})["code"] == "message_not_found"
            # With nothing left to watch, the closer's greenlet ends (none lives on per connection).
            wait_until(lambda: not closer.sweeping and not closer.unclaimed_since, "the closer to go idle")
        finally:
            silent.close()
            refused_once.close()
            signed_in.close()


def test_a_connection_whose_session_ended_must_sign_in_again_or_go(tmp_path: Any) -> None:
    import gevent

    from tests.support.raw_websocket import TEXT, RawWebSocket
    from tests.support.served import served_app

    with served_app(tmp_path, {"SOCKET_CONNECT_TIMEOUT_SECONDS": 1}) as (_app, url):
        live = LiveApi(url)
        leaving, logged_out = live.signup("Leaving"), live.signup("Logged out")
        raws = [RawWebSocket(url), RawWebSocket(url)]
        try:
            for raw, user in zip(raws, (leaving, logged_out), strict=True):
                raw.read_frame()
                raw.send_frame(TEXT, b'40{"token":"%s"}' % user.token.encode())
                assert raw.read_frame()[1].startswith(b'40{"sid"')
            gevent.sleep(2)  # past the deadline: signed in, they are no longer watched
            # One client leaves the namespace but keeps the connection; the other's token is revoked
            # and the server ends its session.
            raws[0].send_frame(TEXT, b"41")
            assert live.call("POST", "/api/auth/logout", logged_out).status_code == 200
            for raw in raws:
                raw.wait_closed()
        finally:
            for raw in raws:
                raw.close()


def test_an_abandoned_polling_handshake_does_not_stop_the_closing_of_others(tmp_path: Any) -> None:
    """A polling client that never polls again cannot be waited for: closing it must not hold up
    the closing of every later unclaimed connection."""
    import requests

    from chatbox import socketio_of
    from tests.support.raw_websocket import RawWebSocket
    from tests.support.served import served_app

    with served_app(tmp_path, {"SOCKET_CONNECT_TIMEOUT_SECONDS": 1}) as (app, url):
        handshake = requests.get(f"{url}/socket.io/?EIO=4&transport=polling", timeout=15)
        assert handshake.status_code == 200
        abandoned_sid = json.loads(handshake.text[1:])["sid"]
        engine_sockets = socketio_of(app).server.eio.sockets
        wait_until(
            lambda: abandoned_sid not in engine_sockets or engine_sockets[abandoned_sid].closed,
            "the abandoned one to be closed",
        )
        later = RawWebSocket(url)
        try:
            later.read_frame()
            later.wait_closed()
        finally:
            later.close()


def test_a_flood_from_a_connection_without_an_account_lets_others_run(tmp_path: Any, monkeypatch: Any) -> None:
    """Refused CONNECTs need no I/O; a client that sends many at once must not keep the process to
    itself: other greenlets run between two of them."""
    import gevent

    from chatbox.realtime import namespace
    from tests.support.raw_websocket import TEXT, RawWebSocket
    from tests.support.served import served_app

    ticks = [0]
    ticks_seen: list[int] = []
    user_from_token = namespace.user_from_token

    def ticker() -> None:
        while True:
            ticks[0] += 1
            gevent.sleep(0)

    def noting_the_ticks(token: str) -> Any:
        ticks_seen.append(ticks[0])
        return user_from_token(token)

    with served_app(tmp_path, {}) as (_app, url):
        monkeypatch.setattr(namespace, "user_from_token", noting_the_ticks)
        raw = RawWebSocket(url)
        running = gevent.spawn(ticker)
        try:
            raw.read_frame()
            count = 20
            for _ in range(count):
                raw.send_frame(TEXT, b'40{"token":"not-a-token"}')
            for _ in range(count):
                assert raw.read_frame() == (TEXT, b'44{"message":"Unauthorized"}')
            assert len(ticks_seen) == count
            assert len(set(ticks_seen)) == count, ticks_seen  # the ticker ran between every two
        finally:
            running.kill()
            raw.close()


def test_an_event_with_a_stale_token_is_refused_before_anything_else(tmp_path: Any) -> None:
    from tests.support.served import served_app

    # A long sweep interval, so the event (not the sweep) meets the stale token first.
    with served_app(tmp_path, {"SESSION_SWEEP_SECONDS": 3600}) as (app, url):
        live = LiveApi(url)
        user = live.signup()
        socket = Socket(url, user)
        assert app.test_cli_runner().invoke(args=["users", "deactivate", user.email]).exit_code == 0
        ack = socket.call("typing", {"to": "not-an-id"})
        assert ack["ok"] is False and ack["code"] == "account_deactivated"
        wait_until(lambda: not socket.client.connected, "the socket to be dropped")


def test_a_silent_socket_of_a_switched_off_account_is_dropped_by_the_sweep(tmp_path: Any) -> None:
    from tests.support.served import served_app

    with served_app(tmp_path, {"SESSION_SWEEP_SECONDS": 1}) as (app, url):
        live = LiveApi(url)
        user, friend = live.signup("Quiet"), live.signup("Friend")
        live.send(friend, user, "hello")
        socket, friend_socket = Socket(url, user), Socket(url, friend)
        friend_socket.wait_for("online-users")
        # The administrator's CLI only writes to the database; the server notices on its own.
        assert app.test_cli_runner().invoke(args=["users", "block", user.email]).exit_code == 0
        wait_until(lambda: not socket.client.connected, "the sweep to drop the blocked account's socket")
        friend_socket.wait_for("user-offline", lambda d: d["userId"] == user.id)
        assert not app.extensions["chatbox"].presence.is_online(user.id)
        friend_socket.close()


# --- messages -------------------------------------------------------------------------------------


def test_new_message_with_ack_reaches_receiver_and_senders_other_connections(live: LiveApi, sockets: Any) -> None:
    alice, bob = live.signup("Alice"), live.signup("Bob")
    alice_phone, alice_laptop, bob_phone = sockets(alice), sockets(alice), sockets(bob)
    ack = alice_phone.call("new-message", {"to": bob.id, "text": " hi bob ", "clientMessageId": "k1"})
    assert ack["ok"] is True
    message = ack["message"]
    assert message["text"] == "hi bob" and message["status"] == "sent" and message["clientMessageId"] == "k1"
    assert bob_phone.wait_for("new-message")[0]["_id"] == message["_id"]
    assert alice_laptop.wait_for("new-message")[0]["_id"] == message["_id"]
    for socket, other in ((alice_phone, bob), (bob_phone, alice)):
        chat = socket.wait_for("new-chat")[0]
        assert chat["user"]["_id"] == other.id and chat["lastMessage"]["_id"] == message["_id"]
    assert bob_phone.wait_for("new-chat")[0]["unreadCount"] == 1
    _sentinel(live, alice_phone, alice)
    assert alice_phone.received("new-message", lambda m: m["_id"] == message["_id"]) == []
    again = alice_phone.call("new-message", {"to": bob.id, "text": "hi bob", "clientMessageId": "k1"})
    assert again["ok"] and again["message"]["_id"] == message["_id"]


def test_rest_send_reaches_sockets_of_both_users(live: LiveApi, sockets: Any) -> None:
    alice, bob = live.signup("Alice"), live.signup("Bob")
    alice_socket, bob_socket = sockets(alice), sockets(bob)
    message = live.send(alice, bob, "over rest")
    assert bob_socket.wait_for("new-message")[0]["_id"] == message["_id"]
    assert alice_socket.wait_for("new-message")[0]["_id"] == message["_id"]


def test_new_message_refusals_are_acks_not_crashes(live: LiveApi, sockets: Any) -> None:
    alice, bob = live.signup("Alice"), live.signup("Bob")
    socket = sockets(alice)
    cases = [
        ({"to": alice.id, "text": "me"}, "self_not_allowed"),
        ({"to": "000000000000000000000000", "text": "x"}, "user_not_found"),
        ({"to": "nope", "text": "x"}, "validation_error"),
        ({"to": bob.id, "text": "   "}, "empty_message"),
        ({"to": bob.id, "text": "x" * 5001}, "text_too_long"),
        ({"to": bob.id, "text": {"$ne": 1}}, "validation_error"),
        ("not an object", "validation_error"),
    ]
    for payload, code in cases:
        ack = socket.call("new-message", payload)
        assert ack["ok"] is False and ack["code"] == code and ack["message"], (payload, ack)
    assert socket.client.connected


# --- status ---------------------------------------------------------------------------------------


def test_one_sockets_sends_are_stored_and_delivered_in_the_order_sent(tmp_path: Any, monkeypatch: Any) -> None:
    """A client that emits several messages without waiting for acks gets them stored in that order,
    even when the database answers an earlier send more slowly than a later one."""
    import gevent

    from chatbox.messages.actions import send as service
    from tests.support.served import served_app

    count = 5
    lookups: list[int] = []
    find_other_user = service.find_other_user

    def slower_for_earlier_sends(*args: Any, **kwargs: Any) -> Any:
        lookups.append(len(lookups))
        gevent.sleep(0.05 * (count - lookups[-1]))  # a database whose first answers come last
        return find_other_user(*args, **kwargs)

    with served_app(tmp_path, {}) as (_app, url):
        live = LiveApi(url)
        alice, bob = live.signup("Hasty"), live.signup("Reader")
        alice_socket, bob_socket = Socket(url, alice), Socket(url, bob)
        monkeypatch.setattr(service, "find_other_user", slower_for_earlier_sends)
        acks: list[Any] = []
        texts = [f"message {i}" for i in range(count)]
        for i, text in enumerate(texts):
            alice_socket.client.emit(
                "new-message", {"to": bob.id, "text": text, "clientMessageId": f"o{i}"}, callback=acks.append
            )
        wait_until(lambda: len(acks) == count, "every ack")
        assert all(ack["ok"] for ack in acks)
        received = bob_socket.wait_for("new-message", count=count)
        assert [m["text"] for m in received] == texts
        history = live.call("GET", f"/api/messages/{alice.id}", bob).json()
        assert [m["text"] for m in history] == texts
        alice_socket.close()
        bob_socket.close()


def test_a_burst_from_one_socket_does_not_hold_back_what_others_are_sent(tmp_path: Any, monkeypatch: Any) -> None:
    """A connection's events run one after another in its greenlet, and handlers that need no I/O
    never yield on their own: between two events of a burst, the server must still flush what it
    queued for other connections (here the receiver's new-message events)."""
    from chatbox import socketio_of
    from chatbox.messages.actions import send as service
    from chatbox.realtime.engine import packets_waiting
    from tests.support.served import served_app

    count = 20
    waiting_for_receiver: list[int] = []
    send_message = service.send_message

    with served_app(tmp_path, {}) as (app, url):
        server = socketio_of(app).server
        live = LiveApi(url)
        alice, bob = live.signup("Burst"), live.signup("Waiting")
        alice_socket, bob_socket = Socket(url, alice), Socket(url, bob)
        bob_engine_socket = server.eio.sockets[server.manager.eio_sid_from_sid(bob_socket.client.get_sid(), "/")]

        def noting_what_waits_for_the_receiver(*args: Any, **kwargs: Any) -> Any:
            waiting_for_receiver.append(packets_waiting(bob_engine_socket))
            return send_message(*args, **kwargs)

        monkeypatch.setattr(service, "send_message", noting_what_waits_for_the_receiver)
        acks: list[Any] = []
        for i in range(count):
            message = {"to": bob.id, "text": f"b{i}", "clientMessageId": f"burst-{i}"}
            alice_socket.client.emit("new-message", message, callback=acks.append)
        wait_until(lambda: len(acks) == count, "every ack")
        assert len(waiting_for_receiver) == count
        assert max(waiting_for_receiver) <= 1, waiting_for_receiver
        assert [m["text"] for m in bob_socket.wait_for("new-message", count=count)] == [f"b{i}" for i in range(count)]
        alice_socket.close()
        bob_socket.close()


def test_delivered_then_read_receipts_reach_the_sender(live: LiveApi, sockets: Any) -> None:
    alice, bob = live.signup("Alice"), live.signup("Bob")
    alice_socket, bob_socket = sockets(alice), sockets(bob)
    message = alice_socket.call("new-message", {"to": bob.id, "text": "tick tick"})["message"]
    bob_socket.wait_for("new-message")
    # Only the receiver may change the status.
    assert alice_socket.call("message-delivered", {"messageId": message["_id"]})["code"] == "not_receiver"
    assert bob_socket.call("message-delivered", {"messageId": message["_id"]}) == {"ok": True, "status": "delivered"}
    status = alice_socket.wait_for("message-status")[0]
    assert status["messageId"] == message["_id"] and status["chatId"] == message["chatId"]
    assert status["status"] == "delivered" and status["deliveredAt"] and status["readAt"] is None
    assert bob_socket.call("message-read", {"messageId": message["_id"]}) == {"ok": True, "updated": 1}
    read = alice_socket.wait_for("messages-read")[0]
    assert read == {
        "chatId": message["chatId"],
        "readerId": bob.id,
        "messageIds": [message["_id"]],
        "readAt": read["readAt"],
    }
    # Never backwards: a late "delivered" leaves it read and tells nobody.
    assert bob_socket.call("message-delivered", {"messageId": message["_id"]}) == {"ok": True, "status": "read"}
    history = live.call("GET", f"/api/messages/{bob.id}", alice).json()
    assert history[-1]["status"] == "read"
    _sentinel(live, alice_socket, alice)
    assert len(alice_socket.received("message-status")) == 1


def test_rest_read_sends_messages_read(live: LiveApi, sockets: Any) -> None:
    alice, bob = live.signup("Alice"), live.signup("Bob")
    alice_socket = sockets(alice)
    first = live.send(alice, bob, "one")
    second = live.send(alice, bob, "two")
    response = live.call("PUT", f"/api/messages/read/{second['_id']}", bob)
    assert response.json() == {"updated": 2}
    read = alice_socket.wait_for("messages-read")[0]
    assert sorted(read["messageIds"]) == sorted([first["_id"], second["_id"]])


def test_waiting_messages_become_delivered_when_the_receiver_connects(live: LiveApi, sockets: Any) -> None:
    alice, bob = live.signup("Alice"), live.signup("Bob")
    alice_socket = sockets(alice)
    waiting = [alice_socket.call("new-message", {"to": bob.id, "text": f"w{i}"})["message"] for i in range(2)]
    assert all(m["status"] == "sent" for m in waiting)
    sockets(bob)
    statuses = alice_socket.wait_for("message-status", count=2)
    assert sorted(s["messageId"] for s in statuses) == sorted(m["_id"] for m in waiting)
    assert {s["status"] for s in statuses} == {"delivered"}
    history = live.call("GET", f"/api/messages/{alice.id}", bob).json()
    assert [m["status"] for m in history] == ["delivered", "delivered"]


def test_join_chat_reads_waiting_and_arriving_messages_until_leave(live: LiveApi, sockets: Any) -> None:
    alice, bob = live.signup("Alice"), live.signup("Bob")
    alice_socket = sockets(alice)
    live.send(alice, bob, "before join")
    bob_socket = sockets(bob)
    assert bob_socket.call("join-chat", {"userId": alice.id}) == {"ok": True, "updated": 1}
    alice_socket.wait_for("messages-read")
    arriving = alice_socket.call("new-message", {"to": bob.id, "text": "while joined"})["message"]
    assert arriving["status"] == "read" and arriving["readAt"]
    alice_socket.wait_for("messages-read", lambda r: arriving["_id"] in r["messageIds"])
    chats = live.call("GET", "/api/messages/chats", bob).json()
    assert chats[0]["unreadCount"] == 0
    # Leaving some other chat leaves this one open.
    assert bob_socket.call("leave-chat", {"userId": live.signup("Other").id}) == {"ok": True}
    still = alice_socket.call("new-message", {"to": bob.id, "text": "still joined"})["message"]
    assert still["status"] == "read"
    assert bob_socket.call("leave-chat", {"userId": alice.id}) == {"ok": True}
    after = alice_socket.call("new-message", {"to": bob.id, "text": "after leave"})["message"]
    assert after["status"] == "sent"
    assert live.call("GET", "/api/messages/chats", bob).json()[0]["unreadCount"] == 1


# --- typing and presence --------------------------------------------------------------------------


def test_typing_and_stop_typing(live: LiveApi, sockets: Any) -> None:
    alice, bob = live.signup("Alice"), live.signup("Bob")
    chat_id = live.send(bob, alice, "we share a chat")["chatId"]
    alice_socket, bob_socket = sockets(alice), sockets(bob)
    assert alice_socket.call("typing", {"to": bob.id}) == {"ok": True}
    assert bob_socket.wait_for("typing") == [{"from": alice.id, "chatId": chat_id}]
    assert alice_socket.call("stop-typing", {"to": bob.id}) == {"ok": True}
    assert bob_socket.wait_for("stop-typing") == [{"from": alice.id, "chatId": chat_id}]
    # the same chat by its id
    assert bob_socket.call("typing", {"chatId": chat_id}) == {"ok": True}
    assert alice_socket.wait_for("typing") == [{"from": bob.id, "chatId": chat_id}]
    assert alice_socket.call("typing", {"to": "bad"})["ok"] is False


def test_presence_goes_to_chat_partners_only_and_waits_for_the_last_connection(live: LiveApi, sockets: Any) -> None:
    alice, bob, stranger = live.signup("Alice"), live.signup("Bob"), live.signup("Stranger")
    live.send(alice, bob, "we share a chat")
    alice_socket, stranger_socket = sockets(alice), sockets(stranger)
    bob_phone = sockets(bob)
    assert alice_socket.wait_for("user-online") == [{"userId": bob.id}]
    assert bob_phone.wait_for("online-users") == [[alice.id]]
    bob_laptop = sockets(bob)
    bob_laptop.wait_for("online-users")
    bob_phone.close()
    bob_laptop.call("typing", {"to": alice.id})
    alice_socket.wait_for("typing")
    assert alice_socket.received("user-offline") == []
    bob_laptop.close()
    offline = alice_socket.wait_for("user-offline")[0]
    assert offline["userId"] == bob.id and offline["lastSeen"]
    profile = live.call("GET", "/api/messages/chats", alice).json()[0]["user"]
    assert profile["isOnline"] is False and profile["lastSeen"] == offline["lastSeen"]
    _sentinel(live, stranger_socket, stranger)
    assert stranger_socket.received("user-online") == [] and stranger_socket.received("user-offline") == []


# --- blocks ---------------------------------------------------------------------------------------


def test_nothing_crosses_a_block(live: LiveApi, sockets: Any) -> None:
    alice, bob = live.signup("Alice"), live.signup("Bob")
    first = live.send(alice, bob, "before the block")
    assert live.call("POST", f"/api/users/block/{alice.id}", bob).status_code == 200
    alice_socket = sockets(alice)
    assert alice_socket.wait_for("online-users") == [[]]
    bob_socket = sockets(bob)
    assert bob_socket.wait_for("online-users") == [[]]
    # The message sent before the block stays "sent": a delivery tick would cross the block.
    for socket, other in ((alice_socket, bob), (bob_socket, alice)):
        sent = socket.call("new-message", {"to": other.id, "text": "through the block?"})
        assert sent["ok"] is False and sent["code"] == "blocked"
        assert socket.call("typing", {"to": other.id})["code"] == "blocked"
    # Reading while blocked changes nothing the sender could see: no receipt, no status.
    assert bob_socket.call("message-read", {"messageId": first["_id"]}) == {"ok": True, "updated": 0}
    assert bob_socket.call("join-chat", {"userId": alice.id}) == {"ok": True, "updated": 0}
    assert bob_socket.call("message-delivered", {"messageId": first["_id"]}) == {"ok": True, "status": "sent"}
    assert live.call("GET", f"/api/messages/{bob.id}", alice).json()[-1]["status"] == "sent"
    _sentinel(live, alice_socket, alice)
    for event in ("new-message", "typing", "messages-read", "message-status", "user-online", "user-offline"):
        assert [d for d in alice_socket.received(event) if d.get("text") != "sentinel"] == [], event
    # Once unblocked, the chat Bob still has open reads as usual.
    assert bob_socket.call("leave-chat", {"userId": alice.id}) == {"ok": True}
    assert live.call("POST", f"/api/users/unblock/{alice.id}", bob).status_code == 200
    assert bob_socket.call("message-read", {"messageId": first["_id"]}) == {"ok": True, "updated": 1}
    alice_socket.wait_for("messages-read", lambda r: r["messageIds"] == [first["_id"]])


def test_blocking_hides_presence_at_once_and_unblocking_restores_it(live: LiveApi, sockets: Any) -> None:
    alice, bob = live.signup("Alice"), live.signup("Bob")
    live.send(alice, bob, "hello")
    alice_socket = sockets(alice)
    sockets(bob)
    alice_socket.wait_for("user-online")
    assert live.call("POST", f"/api/users/block/{bob.id}", alice).status_code == 200
    assert alice_socket.wait_for("user-offline") == [{"userId": bob.id, "lastSeen": None}]
    assert live.call("POST", f"/api/users/block/{bob.id}", alice).status_code == 200
    assert live.call("POST", f"/api/users/unblock/{bob.id}", alice).status_code == 200
    assert len(alice_socket.wait_for("user-online", count=2)) == 2
    assert len(alice_socket.received("user-offline")) == 1


def test_socket_origins_are_limited_to_client_url_and_the_server_itself(live: LiveApi, live_server: LiveServer) -> None:
    import socketio

    user = live.signup()
    # Long-polling, so that the Origin header below is the only one sent.
    for origin in (live_server.url, None):
        headers = {"Origin": origin} if origin else {}
        socket = Socket(live_server.url, None, auth={"token": user.token}, headers=headers, transports=["polling"])
        assert socket.client.connected
        socket.close()
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(
            live_server.url,
            auth={"token": user.token},
            headers={"Origin": "http://evil.example"},
            transports=["polling"],
            wait_timeout=15,
        )
    assert not client.connected


def test_unknown_events_and_bad_leave_chat_are_answered(live: LiveApi, sockets: Any) -> None:
    me = live.signup()
    socket = sockets(me)
    ack = socket.call("no-such-event", {"x": 1})
    assert ack["ok"] is False and ack["code"] == "unknown_event"
    assert socket.call("leave-chat", {"userId": me.id})["code"] == "self_not_allowed"
    assert socket.call("leave-chat", {"userId": "0" * 24})["code"] == "user_not_found"


def test_blocking_a_stranger_tells_nobody_anything(live: LiveApi, sockets: Any) -> None:
    alice, stranger = live.signup("Alice"), live.signup("Stranger")
    alice_socket, stranger_socket = sockets(alice), sockets(stranger)
    assert live.call("POST", f"/api/users/block/{stranger.id}", alice).status_code == 200
    assert live.call("POST", f"/api/users/unblock/{stranger.id}", alice).status_code == 200
    for socket, me in ((alice_socket, alice), (stranger_socket, stranger)):
        _sentinel(live, socket, me)
        assert socket.received("user-offline") == [] and socket.received("user-online") == []


def test_a_view_kept_through_a_block_reads_in_order_after_it(live: LiveApi, sockets: Any) -> None:
    alice, bob = live.signup("Alice"), live.signup("Bob")
    older = live.send(alice, bob, "before the block")
    assert live.call("POST", f"/api/users/block/{alice.id}", bob).status_code == 200
    bob_socket = sockets(bob)
    assert bob_socket.call("join-chat", {"userId": alice.id}) == {"ok": True, "updated": 0}
    assert live.call("POST", f"/api/users/unblock/{alice.id}", bob).status_code == 200
    alice_socket = sockets(alice)
    newer = alice_socket.call("new-message", {"to": bob.id, "text": "after the block"})["message"]
    assert newer["status"] == "read"
    alice_socket.wait_for("messages-read", lambda r: older["_id"] in r["messageIds"])
    statuses = [m["status"] for m in live.call("GET", f"/api/messages/{bob.id}", alice).json()]
    assert statuses == ["read", "read"]
    assert live.call("GET", "/api/messages/chats", bob).json()[0]["unreadCount"] == 0


def test_clients_cannot_run_the_connect_and_disconnect_handlers(live: LiveApi, sockets: Any) -> None:
    alice, carol, friend = live.signup("Alice"), live.signup("Carol"), live.signup("Friend")
    live.send(friend, alice, "hello")
    alice_socket, friend_socket = sockets(alice), sockets(friend)
    friend_socket.wait_for("online-users")
    hijack = alice_socket.call("connect", {"HTTP_AUTHORIZATION": f"Bearer {carol.token}"})
    assert hijack["ok"] is False and hijack["code"] == "unknown_event"
    fake_close = alice_socket.call("disconnect", "client namespace disconnect")
    assert fake_close["ok"] is False and fake_close["code"] == "unknown_event"
    _sentinel(live, friend_socket, friend)
    assert friend_socket.received("user-offline") == []
    # The socket still speaks for Alice, with Alice's token: a logout of it still drops it.
    assert live.call("POST", "/api/auth/logout", alice).status_code == 200
    wait_until(lambda: not alice_socket.client.connected, "the logged-out socket to be dropped")


def test_a_silent_socket_is_dropped_when_its_token_expires(tmp_path: Any) -> None:
    from tests.support.served import served_app

    overrides = {"JWT_ACCESS_TOKEN_EXPIRES": timedelta(seconds=3), "SESSION_SWEEP_SECONDS": 1}
    with served_app(tmp_path, overrides) as (_app, url):
        user = LiveApi(url).signup()
        socket = Socket(url, user)
        assert socket.client.connected
        wait_until(lambda: not socket.client.connected, "the expired socket to be dropped")


def test_one_event_payload_never_leaks_into_the_next(live: LiveApi, sockets: Any) -> None:
    """Event schemas are built once per process and shared by every event (the CPU of a send): each
    event is still validated on its own, with nothing left over from the one before."""
    alice, bob = live.signup("Alice Schema"), live.signup("Bob Schema")
    socket = sockets(alice)
    refused_send = socket.call("new-message", {"to": bob.id, "text": 5})
    assert refused_send["ok"] is False and refused_send["code"] == "validation_error"
    with_id = socket.call("new-message", {"to": bob.id, "text": "second", "clientMessageId": "c-2"})
    without_id = socket.call("new-message", {"to": bob.id, "text": "third"})
    assert with_id["ok"] and with_id["message"]["text"] == "second" and with_id["message"]["clientMessageId"] == "c-2"
    assert without_id["ok"] and without_id["message"]["text"] == "third"
    assert without_id["message"].get("clientMessageId") is None
    assert socket.call("message-read", {})["code"] == "validation_error"
