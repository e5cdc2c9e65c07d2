"""Hardening of the HTTP server as deployed (the Procfile's gunicorn command, issue 14): half-sent
requests and connection floods from one address, JSON bodies on gevent's own early answers, and
tokens kept out of every log."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.live import LiveServer, start_live_server
from tests.support.served import served_app
from tests.support.sockets import LiveApi, Socket, wait_until

pytestmark = pytest.mark.slow  # starts its own gunicorn servers

WAIT_SECONDS = 30.0
ATTACKER = "127.0.0.2"  # all of 127/8 is loopback: a second client address on this machine


def _port(url: str) -> int:
    return int(urlsplit(url).port or 80)


def _connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.settimeout(WAIT_SECONDS)
    sock.connect(("127.0.0.1", port))
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts as closing)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def _answer(raw: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    return int(lines[0].split()[1]), headers, json.loads(body) if body else None


@pytest.fixture
def server_factory(tmp_path: Any) -> Iterator[Any]:
    started: list[LiveServer] = []

    def start(**env: str) -> LiveServer:
        workdir = tmp_path / f"server-{len(started)}"
        workdir.mkdir()
        server = start_live_server(workdir, extra_env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# --- half-sent requests and connection floods ---------------------------------------------------------


def test_healthz_answers_while_one_address_holds_all_the_half_sent_requests_it_can(server_factory: Any) -> None:
    # The scaled-down stand-in: 300 connections per process, and more half-sent requests
    # from one address than that (without the cap they took every connection and /healthz hung).
    # A header timeout of 4 s instead of 10: ample to open them all and check /healthz first.
    server = server_factory(WORKER_CONNECTIONS="300", MAX_CONNECTIONS_PER_ADDRESS="200", HEADER_TIMEOUT_SECONDS="4")
    port = _port(server.url)
    held: list[socket.socket] = []
    try:
        for _ in range(320):
            sock = _connect(port, ATTACKER)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            held.append(sock)
        # Everyone else is served normally meanwhile.
        for _ in range(3):
            health = requests.get(f"{server.url}/healthz", timeout=WAIT_SECONDS)
            assert health.status_code == 200 and health.json()["status"] == "ok"
        # Past the cap the address's connections were answered 503 and closed at once...
        refusals = [_read_all(sock) for sock in held[200:]]
        for raw in refusals:
            if raw:  # (a reset may beat the answer to the client: then it was closed, as the rule allows)
                status, headers, body = _answer(raw)
                assert status == 503 and body["code"] == "too_many_connections", raw
                assert headers["content-type"] == "application/json"
        assert any(refusals)
        # ...and the ones it holds are closed once their headers are HEADER_TIMEOUT_SECONDS late.
        for sock in held[:200]:
            assert _read_all(sock) == b""
        # The address may connect again.
        again = _connect(port, ATTACKER)
        again.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert _answer(_read_all(again))[0] == 200
    finally:
        for sock in held:
            sock.close()


def test_an_idle_kept_alive_connection_is_closed_after_the_header_timeout(tmp_path: Any) -> None:
    with served_app(tmp_path, {"HEADER_TIMEOUT_SECONDS": 1}) as (_app, url):
        sock = _connect(_port(url))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = b""
        while b'"status"' not in first:
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        # Nothing more is sent: the server hangs up instead of waiting for ever.
        assert _read_all(sock) == b""
        # A websocket (whose request is done) is not affected by the header deadline.
        user = LiveApi(url).signup("Patient")
        live_socket = Socket(url, user)
        try:
            time.sleep(2.5)
            assert live_socket.client.connected
            assert live_socket.call("message-read", {"messageId": "0" * 24})["code"] == "message_not_found"
        finally:
            live_socket.close()


def test_the_per_address_cap_counts_open_websockets_and_frees_their_places(tmp_path: Any) -> None:
    with served_app(tmp_path, {"MAX_CONNECTIONS_PER_ADDRESS": 3}) as (_app, url):
        user = LiveApi(url).signup("Tabs")
        sockets = [Socket(url, user) for _ in range(3)]
        try:
            refused = _connect(_port(url))
            status, _headers, body = _answer(_read_all(refused))
            assert status == 503 and body == {
                "message": "Too many connections from this address.",
                "code": "too_many_connections",
            }
            sockets.pop().close()
            assert wait_until(lambda: _healthz_status(url) == 200, "a place to free up")
        finally:
            for live_socket in sockets:
                live_socket.close()


def _healthz_status(url: str) -> int:
    try:
        return requests.get(f"{url}/healthz", timeout=WAIT_SECONDS).status_code
    except requests.RequestException:
        return 0


def test_behind_declared_proxies_the_per_address_cap_is_the_proxys_job(tmp_path: Any) -> None:
    with served_app(tmp_path, {"MAX_CONNECTIONS_PER_ADDRESS": 1, "PROXY_FIX_HOPS": 1}) as (_app, url):
        held = _connect(_port(url))
        try:
            assert _healthz_status(url) == 200
        finally:
            held.close()


def test_gunicorn_refuses_a_worker_class_without_the_limits() -> None:
    """The spec's original `-k geventwebsocket.gunicorn.workers.GeventWebSocketWorker` would silently
    drop every limit above: gunicorn.conf.py stops with one line instead."""
    import subprocess
    import sys

    from tests.support.live import ROOT

    command = [
        sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
        "-k", "geventwebsocket.gunicorn.workers.GeventWebSocketWorker", "--bind", "127.0.0.1:0", "wsgi:app",
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=60, env={**os.environ, "CHATBOX_ENV": "testing"}
    )
    assert result.returncode != 0
    assert "chatbox.realtime.serving.ChatBoxWorker" in result.stderr and "Traceback" not in result.stderr


# --- gevent's own answers are JSON --------------------------------------------------------------------


def test_answers_given_before_the_app_runs_are_json(live_server: LiveServer) -> None:
    # The default settings, as the suite's shared server has them: no server of its own to start.
    server = live_server
    port = _port(server.url)
    cases = [
        (b"GET /healthz?q=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "url_too_long"),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431, "headers_too_large"),
        (b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(120)) + b"\r\n", 431,
         "headers_too_large"),
        (b"NONSENSE\r\n\r\n", 400, "bad_request"),
        (b"GET /healthz HTTP/7.0\r\nHost: x\r\n\r\n", 400, "bad_request"),
    ]  # fmt: skip
    for request, expected, code in cases:
        sock = _connect(port)
        try:
            sock.sendall(request)
            status, headers, body = _answer(_read_all(sock))
        finally:
            sock.close()
        assert status == expected, request[:40]
        assert headers["content-type"] == "application/json" and int(headers["content-length"]) > 0
        assert body["code"] == code and body["message"]
    assert requests.get(f"{server.url}/healthz", timeout=WAIT_SECONDS).status_code == 200


def test_a_request_that_asks_to_close_is_told_the_connection_closes(live_server: LiveServer) -> None:
    """HTTP/1.1 `Connection: close` (nginx sends it upstream for a long-poll under the websocket example's
    map) is answered with `Connection: close`: a proxy that judges reuse by the answer alone must not
    keep, and later reuse, a connection the server closes. A kept-alive request is not told so."""
    port = _port(live_server.url)
    polling = b"/socket.io/?EIO=4&transport=polling"
    for path, connection, closes in [
        (b"/healthz", b"close", True),
        (polling, b"close", True),
        (b"/healthz", b"keep-alive", False),
    ]:
        sock = _connect(port)
        try:
            sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: " + connection + b"\r\n\r\n")
            if closes:
                raw = _read_all(sock)
            else:
                raw = b""
                while b"\r\n\r\n" not in raw:
                    raw += sock.recv(65536)
        finally:
            sock.close()
        head = raw.partition(b"\r\n\r\n")[0].decode("latin-1").lower()
        assert head.startswith("http/1.1 200"), head
        assert ("\r\nconnection: close" in head) is closes, (path, head)


def test_socketio_transport_refusals_are_json(tmp_path: Any) -> None:
    """Engine.IO's own answers to requests it cannot take (a protocol version, session or transport it
    does not know, a method it does not serve, a foreign origin) are `{message, code}` JSON too."""
    with served_app(tmp_path) as (_app, url):
        cases = [
            ("GET", "/socket.io/?EIO=3&transport=polling", {}, 400, "bad_request"),
            ("GET", "/socket.io/?EIO=4&transport=polling&sid=nope", {}, 400, "bad_request"),
            ("POST", "/socket.io/?EIO=4&transport=polling&sid=nope", {}, 400, "bad_request"),
            ("GET", "/socket.io/?EIO=4&transport=carrier-pigeon", {}, 400, "bad_request"),
            ("GET", "/socket.io/?EIO=4&transport=websocket", {}, 400, "bad_request"),
            ("PUT", "/socket.io/?EIO=4&transport=polling", {}, 405, "method_not_allowed"),
            ("GET", "/socket.io/?EIO=4&transport=polling", {"Origin": "https://evil.example"}, 400,
             "origin_not_allowed"),
        ]  # fmt: skip
        for method, path, headers, status, code in cases:
            answer = requests.request(method, f"{url}{path}", headers=headers, timeout=WAIT_SECONDS)
            assert answer.status_code == status, (path, answer.text)
            assert answer.headers["Content-Type"] == "application/json", (path, answer.headers)
            body = answer.json()
            assert body["code"] == code and body["message"], (path, body)
        # Real clients are unaffected, over either transport.
        user = LiveApi(url).signup("Polly")
        for transports in (["polling"], ["websocket"]):
            client = Socket(url, user, transports=transports)
            assert client.client.connected
            client.close()


# --- tokens never in logs -----------------------------------------------------------------------------


def _token_bearing_traffic(url: str, token: str) -> None:
    port = _port(url)
    # A Socket.IO client that signs in over long-polling with ?token= (several requests).
    polling = Socket(f"{url}?token={token}", None, transports=["polling"])
    assert polling.client.connected
    polling.close()
    requests.get(f"{url}/api/auth/check", params={"token": token}, timeout=WAIT_SECONDS)
    requests.get(f"{url}/healthz?x=1&token={token}", headers={"Referer": f"http://a.example/?token={token}"})
    for raw in (
        b"GET /healthz?token=" + token.encode() + b"&pad=" + b"p" * 9000 + b" HTTP/1.1\r\n\r\n",  # 414
        b"GET /healthz?token=" + token.encode() + b" HTTP/9.9\r\nHost: x\r\n\r\n",  # 400, logged
        b"PUT /healthz?token=" + token.encode() + b"\r\n\r\n",  # 400 (HTTP/0.9 only GETs), logged
    ):
        sock = _connect(port)
        sock.sendall(raw)
        _read_all(sock)
        sock.close()


def test_tokens_are_masked_in_gunicorns_access_and_error_logs(server_factory: Any) -> None:
    server = server_factory(ACCESS_LOG="-")
    user = LiveApi(server.url).signup("Logged")
    _token_bearing_traffic(server.url, user.token)
    server.stop()
    log = server.log()
    assert user.token not in log and user.token[-20:] not in log
    assert "token=***" in log and "/socket.io/?" in log and "/healthz" in log


def test_tokens_are_masked_in_the_development_servers_request_log(tmp_path: Any, caplog: Any) -> None:
    with served_app(tmp_path) as (_app, url), caplog.at_level(logging.INFO):
        user = LiveApi(url).signup("Dev")
        _token_bearing_traffic(url, user.token)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert user.token not in logged and "token=***" in logged


def test_mask_tokens() -> None:
    from chatbox.realtime.serving import mask_tokens

    assert mask_tokens("GET /socket.io/?EIO=4&token=abc.def-ghi&t=1 HTTP/1.1") == (
        "GET /socket.io/?EIO=4&token=***&t=1 HTTP/1.1"
    )
    assert mask_tokens("/x?TOKEN=a%2Eb") == "/x?TOKEN=***"
    assert mask_tokens("/x?access_token=s3cret#frag") == "/x?access_token=***#frag"
    assert mask_tokens("/x?fcmToken=keep&mytoken=keep") == "/x?fcmToken=keep&mytoken=keep"
    assert mask_tokens("token=first and ?token=second") == "token=*** and ?token=***"
