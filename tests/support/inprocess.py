"""Complete ChatBox instances served inside the test process, each on its own loopback port.

Each node is its own Flask app with its own Socket.IO server, Redis pools and presence store, served by
gevent's WSGI server with gevent-websocket in greenlets; the nodes share only the embedded database,
as real processes share MongoDB.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import requests
import socketio
from flask import Flask
from gevent import pywsgi
from geventwebsocket.handler import WebSocketHandler

from tests.support.api import PASSWORD, unique_email

WAIT_SECONDS = 15.0
_names = itertools.count(1)


@dataclass
class Node:
    app: Flask
    server: pywsgi.WSGIServer

    @property
    def url(self) -> str:
        host, port = self.server.address[:2]
        return f"http://{host}:{port}"

    @property
    def rt(self) -> Any:
        return self.app.extensions["chatbox"]

    @property
    def heartbeat(self) -> Any:
        return self.app.extensions["chatbox.heartbeat"]

    def stop(self) -> None:
        heartbeat = self.app.extensions.get("chatbox.heartbeat")
        if heartbeat is not None:
            heartbeat.stop()
        self.server.stop(timeout=2)


def start_node(upload_dir: Path, overrides: dict[str, Any]) -> Node:
    """Build one instance with `create_app` and serve it on a free 127.0.0.1 port."""
    from chatbox import create_app

    app = create_app(
        {
            "UPLOAD_DIR": str(upload_dir),
            "RATELIMIT_ENABLED": False,
            "CHATBOX_ENV": "testing",
            **overrides,
        }
    )
    app.extensions["chatbox"].storage.root = str(upload_dir)
    server = pywsgi.WSGIServer(("127.0.0.1", 0), app, handler_class=WebSocketHandler, log=None, error_log=None)
    server.start()
    return Node(app, server)


@dataclass
class NodeUser:
    id: str
    email: str
    token: str
    full_name: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def signup(base_url: str, name: str | None = None) -> NodeUser:
    name = name or f"Node User {next(_names)}"
    email = unique_email(name.lower().replace(" ", ""))
    response = requests.post(
        f"{base_url}/api/auth/signup", json={"fullName": name, "email": email, "password": PASSWORD}, timeout=30
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return NodeUser(body["_id"], body["email"], body["token"], body["fullName"])


def rest(base_url: str, method: str, path: str, user: NodeUser, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{base_url}{path}", headers=user.headers, timeout=30, **kwargs)


def wait_until(condition: Callable[[], Any], what: str, seconds: float = WAIT_SECONDS) -> Any:
    """Poll `condition` until it returns something truthy (bounded in time)."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        gevent.sleep(0.02)


@dataclass
class Client:
    """One Socket.IO connection of one user, recording every server event it receives."""

    user: NodeUser
    url: str
    events: list[tuple[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._record)
        self.sio.connect(self.url, auth={"token": self.user.token}, transports=["websocket"], wait_timeout=WAIT_SECONDS)

    def _record(self, event: str, data: Any = None) -> None:
        self.events.append((event, data))

    def call(self, event: str, data: Any) -> Any:
        return self.sio.call(event, data, timeout=WAIT_SECONDS)

    def received(self, event: str, where: Callable[[Any], bool] | None = None) -> list[Any]:
        return [data for name, data in self.events if name == event and (where is None or where(data))]

    def wait_for(self, event: str, where: Callable[[Any], bool] | None = None, count: int = 1) -> list[Any]:
        found = wait_until(lambda: len(self.received(event, where)) >= count, f"{event!r} x{count}")
        assert found
        return self.received(event, where)

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()
