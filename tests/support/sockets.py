"""Real Socket.IO clients (python-socketio) and a REST helper for tests against a running server."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import gevent
import requests
import socketio

from tests.support.api import PASSWORD, User, unique_email

WAIT_SECONDS = 15.0
_names = itertools.count(1)


# A signed-up user, whichever server it signed up on.
LiveUser = User


class LiveApi:
    """REST calls against a live server."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()

    def signup(self, name: str | None = None) -> LiveUser:
        name = name or f"Live {next(_names)}"
        email = unique_email(name.lower().replace(" ", ""))
        response = self.http.post(
            f"{self.base_url}/api/auth/signup", json={"fullName": name, "email": email, "password": PASSWORD}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        self.http.cookies.clear()
        return LiveUser(body["_id"], body["email"], body["token"], body["fullName"])

    def call(self, method: str, path: str, user: LiveUser | None = None, **kwargs: Any) -> requests.Response:
        headers = {**(user.headers if user else {}), **kwargs.pop("headers", {})}
        response = self.http.request(method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs)
        self.http.cookies.clear()
        return response

    def send(self, sender: LiveUser, receiver: LiveUser, text: str) -> dict[str, Any]:
        response = self.call("POST", f"/api/messages/send/{receiver.id}", sender, json={"text": text})
        assert response.status_code == 201, response.text
        return response.json()


def wait_until(condition: Callable[[], Any], what: str, seconds: float = WAIT_SECONDS) -> Any:
    """Poll `condition` until it returns something truthy, and return that (bounded in time)."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds}s")
        gevent.sleep(0.02)


class Socket:
    """One connection of one user, recording every server event it receives."""

    def __init__(self, base_url: str, user: LiveUser | None = None, **connect: Any) -> None:
        self.user = user
        self.events: list[tuple[str, Any]] = []
        # Durable events as (seq, event, data), in the order received (the second argument's seq).
        self.durable: list[tuple[int, str, Any]] = []
        self.connect_errors: list[Any] = []
        self.client = socketio.Client(reconnection=False)
        self.client.on("*", self._record)
        self.client.on("connect_error", self.connect_errors.append)
        if user is not None and "auth" not in connect and "headers" not in connect:
            connect["auth"] = {"token": user.token}
        connect.setdefault("transports", ["websocket"])
        connect.setdefault("wait_timeout", WAIT_SECONDS)
        self.client.connect(base_url, **connect)

    def _record(self, event: str, data: Any = None, meta: Any = None) -> None:
        self.events.append((event, data))
        if isinstance(meta, dict) and "seq" in meta:
            self.durable.append((meta["seq"], event, data))

    def seqs(self) -> list[int]:
        return [seq for seq, _event, _data in self.durable]

    def call(self, event: str, data: Any) -> Any:
        return self.client.call(event, data, timeout=WAIT_SECONDS)

    def received(self, event: str, where: Callable[[Any], bool] | None = None) -> list[Any]:
        return [data for name, data in self.events if name == event and (where is None or where(data))]

    def wait_for(self, event: str, where: Callable[[Any], bool] | None = None, count: int = 1) -> list[Any]:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            found = self.received(event, where)
            if len(found) >= count:
                return found
            gevent.sleep(0.02)
        raise AssertionError(f"no {event!r} (x{count}) within {WAIT_SECONDS}s; got {self.events!r}")

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


def refused(base_url: str, **connect: Any) -> Any:
    """Try to connect; return the connect_error payload (fails the test if the server accepts)."""
    errors: list[Any] = []
    client = socketio.Client(reconnection=False)
    client.on("connect_error", errors.append)
    connect.setdefault("transports", ["websocket"])
    connect.setdefault("wait_timeout", WAIT_SECONDS)
    try:
        client.connect(base_url, **connect)
    except socketio.exceptions.ConnectionError:
        return errors[0] if errors else None
    client.disconnect()
    raise AssertionError("the server accepted a connection it should have refused")
