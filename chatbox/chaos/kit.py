"""The chaos kit's engine: simulated users on real Socket.IO connections, chaos, and the checks.

Each simulated user signs up, keeps one socket (resuming with `auth.since` = the last seq it applied, as
the client guide says), sends messages to the others and acknowledges what it receives (delivered,
sometimes read). Meanwhile the kit drops sockets at random (abruptly, without a goodbye) and, at one
point, runs the restart hook (kill and restart a server process). When all sends are acknowledged it
lets every user catch up and checks each one against the server's stored stream and history:

- every stored durable event of the user reached it exactly once (live, replayed, or as an ack's seq);
- on every connection, seqs came in increasing order;
- no event reached it that the stream does not hold;
- no `sync-reset` (nothing here is older than the retention period);
- every message acknowledged to its sender is in the sender's history and reached its receiver;
- no message reached a receiver that its sender was not told was stored.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent
import requests
import socketio
from gevent.event import AsyncResult

PASSWORD = "chaos-kit-password"
CALL_TIMEOUT = 5.0


class KitError(RuntimeError):
    """The deployment could not be driven at all (sign-up refused, no server answering)."""


@dataclass
class Settings:
    urls: list[str]
    users: int = 6
    messages: int = 25  # per user
    drop_every: float = 0.25  # mean seconds between two socket drops (across all users)
    restart: Callable[[], None] | None = None  # kills and restarts a server process
    settle_seconds: float = 30.0
    time_limit: float = 300.0
    seed: int | None = None


@dataclass
class SimUser:
    index: int
    user_id: str
    token: str
    # the stream as this user's client saw it
    last: int = 0
    seen: dict[int, str] = field(default_factory=dict)
    duplicates: list[int] = field(default_factory=list)
    disorder: list[tuple[int, int]] = field(default_factory=list)
    resets: int = 0
    # messages
    sent: int = 0
    acked: dict[str, tuple[str, str]] = field(default_factory=dict)  # message id -> (receiver id, text)
    received: dict[str, str] = field(default_factory=dict)  # message id -> sender id (as the receiver)
    # connections
    connects: int = 0
    drops: int = 0
    socket: socketio.Client | None = None
    session_last: int = 0  # the last seq seen on the current connection
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def name(self) -> str:
        return f"user{self.index}"


@dataclass
class UserReport:
    name: str
    sent: int
    acked: int
    events: int
    connects: int
    drops: int
    position: int
    lost: list[int]
    duplicates: list[int]
    disorder: list[tuple[int, int]]
    unstored: list[int]
    never_stored: int
    resets: int
    missing_in_history: list[str]
    undelivered: list[str]
    delivered_unacked: list[str]

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.duplicates
            or self.disorder
            or self.unstored
            or self.resets
            or self.missing_in_history
            or self.undelivered
            or self.delivered_unacked
        )


@dataclass
class Report:
    users: list[UserReport]
    restarts: int
    settled: bool
    seconds: float

    @property
    def ok(self) -> bool:
        return self.settled and all(u.ok for u in self.users)

    def table(self) -> str:
        columns = [
            ("user", lambda u: u.name),
            ("sent", lambda u: u.sent),
            ("acked", lambda u: u.acked),
            ("events", lambda u: u.events),
            ("position", lambda u: u.position),
            ("connects", lambda u: u.connects),
            ("drops", lambda u: u.drops),
            ("lost", lambda u: len(u.lost)),
            ("dup", lambda u: len(u.duplicates)),
            ("disorder", lambda u: len(u.disorder)),
            ("unstored", lambda u: len(u.unstored)),
            ("resets", lambda u: u.resets),
            ("not-in-history", lambda u: len(u.missing_in_history)),
            ("undelivered", lambda u: len(u.undelivered)),
            ("unacked-delivered", lambda u: len(u.delivered_unacked)),
            ("skipped(never stored)", lambda u: u.never_stored),
            ("result", lambda u: "ok" if u.ok else "FAIL"),
        ]
        rows = [[str(get(u)) for _name, get in columns] for u in self.users]
        header = [name for name, _get in columns]
        widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]
        line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
        out = [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]
        verdict = "OK: every event exactly once, in order; every acknowledged message stored and delivered"
        if not self.ok:
            problems = []
            for u in self.users:
                if u.lost:
                    problems.append(f"{u.name} lost seqs {u.lost[:10]}")
                if u.duplicates:
                    problems.append(f"{u.name} got seqs twice: {u.duplicates[:10]}")
                if u.disorder:
                    problems.append(f"{u.name} got seqs out of order (after, got): {u.disorder[:10]}")
                if u.unstored:
                    problems.append(f"{u.name} got seqs the stream does not hold: {u.unstored[:10]}")
                if u.resets:
                    problems.append(f"{u.name} was told sync-reset {u.resets} times")
                if u.missing_in_history:
                    problems.append(f"{u.name}: acknowledged but not in history: {u.missing_in_history[:5]}")
                if u.undelivered:
                    problems.append(f"{u.name}: acknowledged but never delivered: {u.undelivered[:5]}")
                if u.delivered_unacked:
                    problems.append(f"{u.name}: delivered but never acknowledged: {u.delivered_unacked[:5]}")
            if not self.settled:
                problems.append("the users did not catch up with the stored stream in time")
            verdict = "FAIL:\n  " + "\n  ".join(problems)
        out += ["", f"{len(self.users)} users, {self.restarts} server restart(s), {self.seconds:.1f} s", verdict]
        return "\n".join(out)


class Kit:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.random = random.Random(settings.seed)
        self.http = requests.Session()
        self.users: list[SimUser] = []
        self.running = True
        self.restarts = 0
        self._ids = itertools.count(1)

    # --- HTTP ------------------------------------------------------------------------------------

    def _url(self) -> str:
        return self.random.choice(self.settings.urls)

    def _request(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        """A REST call to any node, retried while nodes restart."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        deadline = time.monotonic() + 30
        while True:
            try:
                response = requests.request(method, self._url() + path, headers=headers, timeout=10, **kwargs)
                if response.status_code < 500 and response.status_code != 429:
                    return response
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise KitError(f"{method} {path}: no server answered properly for 30 s")
            gevent.sleep(0.2)

    def _signup(self, index: int) -> SimUser:
        email = f"chaos-{uuid.uuid4().hex[:12]}-{index}@example.com"
        body = {"fullName": f"Chaos {index}", "email": email, "password": PASSWORD}
        response = self._request("POST", "/api/auth/signup", json=body)
        if response.status_code != 201:
            raise KitError(f"sign-up refused: {response.status_code} {response.text[:200]}")
        data = response.json()
        return SimUser(index, data["_id"], data["token"])

    # --- sockets ---------------------------------------------------------------------------------

    def _apply(self, user: SimUser, seq: int, event: str) -> None:
        with user.lock:
            if seq in user.seen:
                user.duplicates.append(seq)
                return
            if seq <= user.session_last:
                user.disorder.append((user.session_last, seq))
            user.seen[seq] = event
            user.session_last = max(user.session_last, seq)
            user.last = max(user.last, seq)

    def _connect(self, user: SimUser) -> None:
        client = socketio.Client(reconnection=False)

        def on_any(event: str, data: Any = None, meta: Any = None) -> None:
            if client is not user.socket:
                return  # a connection the kit has already dropped
            if event == "sync-reset":
                with user.lock:
                    user.resets += 1
                    user.last = max(user.last, int((data or {}).get("position", user.last)))
                return
            if not (isinstance(meta, dict) and isinstance(meta.get("seq"), int)):
                return  # ephemeral
            self._apply(user, meta["seq"], event)
            if event == "new-message" and isinstance(data, dict) and data.get("receiverId") == user.user_id:
                with user.lock:
                    user.received[data["_id"]] = data.get("senderId", "")
                try:
                    client.emit("message-delivered", {"messageId": data["_id"]})
                    if self.random.random() < 0.3:
                        client.emit("message-read", {"messageId": data["_id"]})
                except socketio.exceptions.SocketIOError:
                    pass  # dropped meanwhile: the receipt is the sender's loss only, not the stream's

        client.on("*", on_any)
        with user.lock:
            since = user.last
            user.session_last = since
            user.socket = client
        client.connect(
            self._url(),
            auth={"token": user.token, "since": since},
            transports=["websocket"],
            wait_timeout=10,
        )
        with user.lock:
            user.connects += 1

    def _keep_connected(self, user: SimUser) -> None:
        while self.running:
            client = user.socket
            if client is None or not client.connected:
                try:
                    self._connect(user)
                except (socketio.exceptions.ConnectionError, OSError, ValueError):
                    gevent.sleep(0.2)
                    continue
            gevent.sleep(0.05)

    def _drop(self, user: SimUser) -> None:
        """Cut the connection without a goodbye, as a phone changing networks does."""
        client = user.socket
        if client is None or not client.connected:
            return
        with user.lock:
            user.drops += 1
            user.socket = None  # events still in flight on it are not applied
        with contextlib.suppress(Exception):  # the connection may be half gone already
            client.eio.disconnect(abort=True)
        with contextlib.suppress(Exception):
            client.disconnect()

    # --- actions ---------------------------------------------------------------------------------

    def _send_all(self, user: SimUser) -> None:
        others = [u for u in self.users if u is not user]
        for i in range(self.settings.messages):
            peer = self.random.choice(others)
            text = f"{user.name} to {peer.name} #{i}"
            client_id = f"{user.name}-{i}-{uuid.uuid4().hex[:6]}"
            user.sent += 1
            while self.running:
                client = user.socket
                if client is None or not client.connected:
                    gevent.sleep(0.05)
                    continue
                ack = self._call_send(user, client, {"to": peer.user_id, "text": text, "clientMessageId": client_id})
                if ack is None:
                    continue  # dropped before the ack: the same clientMessageId again
                if not ack.get("ok"):
                    gevent.sleep(0.1)
                    continue
                with user.lock:
                    user.acked[ack["message"]["_id"]] = (peer.user_id, text)
                break
            gevent.sleep(self.random.uniform(0.03, 0.12))

    def _call_send(self, user: SimUser, client: socketio.Client, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Send; the ack's seq is applied as the client reads it, in order with the events around it."""
        result: AsyncResult = AsyncResult()

        def on_ack(ack: Any = None) -> None:
            if isinstance(ack, dict) and ack.get("ok") and isinstance(ack.get("seq"), int) and client is user.socket:
                # (An ack that comes on a connection the kit has dropped is not applied: the resumed
                # connection replays that event.)
                self._apply(user, ack["seq"], "new-message")
            result.set(ack if isinstance(ack, dict) else {"ok": False})

        try:
            client.emit("new-message", payload, callback=on_ack)
            return result.get(timeout=CALL_TIMEOUT)
        except (gevent.Timeout, socketio.exceptions.SocketIOError):
            return None

    def _chaos(self, sending: list[gevent.Greenlet]) -> None:
        """Drop a random user's socket every `drop_every` seconds on average, until the sends are done."""
        while self.running and not all(g.dead for g in sending):
            gevent.sleep(self.random.expovariate(1 / self.settings.drop_every))
            self._drop(self.random.choice(self.users))

    def _restart_when_due(self, sending: list[gevent.Greenlet]) -> None:
        """Run the restart once 40 % of all messages are acknowledged."""
        if self.settings.restart is None:
            return
        due = len(self.users) * self.settings.messages * 0.4
        while self.running and not all(g.dead for g in sending):
            if sum(len(u.acked) for u in self.users) >= due:
                self.settings.restart()
                self.restarts += 1
                return
            gevent.sleep(0.02)

    # --- the run ---------------------------------------------------------------------------------

    def run(self) -> Report:
        started = time.monotonic()
        self.users = [self._signup(i + 1) for i in range(self.settings.users)]
        keepers = [gevent.spawn(self._keep_connected, u) for u in self.users]
        try:
            gevent.wait([gevent.spawn(self._wait_connected, u) for u in self.users], timeout=30)
            sending = [gevent.spawn(self._send_all, u) for u in self.users]
            chaos = [gevent.spawn(self._chaos, sending), gevent.spawn(self._restart_when_due, sending)]
            gevent.joinall(sending, timeout=self.settings.time_limit)
            gevent.joinall([chaos[1]], timeout=30)  # a restart under way finishes
            gevent.killall(chaos)
            settled = self._settle()
            return self._check(settled, time.monotonic() - started)
        finally:
            self.running = False
            gevent.killall(keepers)
            for user in self.users:
                if user.socket is not None:
                    with contextlib.suppress(Exception):
                        user.socket.disconnect()

    def _wait_connected(self, user: SimUser) -> None:
        while not (user.socket is not None and user.socket.connected):
            gevent.sleep(0.05)

    def _stored(self, user: SimUser) -> tuple[dict[int, dict[str, Any]], int]:
        """The user's whole stored stream, from GET /api/sync (paged), and the position."""
        events: dict[int, dict[str, Any]] = {}
        since, position = 0, 0
        while True:
            response = self._request("GET", "/api/sync", user.token, params={"since": since, "limit": 500})
            body = response.json()
            if response.status_code != 200 or body.get("reset"):
                raise KitError(f"GET /api/sync for {user.name}: {response.status_code} {response.text[:200]}")
            position = body["position"]
            for event in body["events"]:
                events[event["seq"]] = event
            if not body["hasMore"] or not body["events"]:
                return events, position
            since = body["events"][-1]["seq"]

    def _settle(self) -> bool:
        """Let every user's client catch up: all it was owed, up to the stored stream's end."""
        deadline = time.monotonic() + self.settings.settle_seconds
        while time.monotonic() < deadline:
            behind = False
            for user in self.users:
                stored, _position = self._stored(user)
                with user.lock:
                    if not set(stored) <= set(user.seen):
                        behind = True
            if not behind:
                gevent.sleep(0.5)  # a duplicate would come right behind
                return True
            gevent.sleep(0.5)
        return False

    def _history(self, user: SimUser, peer_id: str) -> set[str]:
        ids: set[str] = set()
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            response = self._request("GET", f"/api/messages/{peer_id}", user.token, params=params)
            ids |= {m["_id"] for m in response.json()}
            cursor = response.headers.get("X-Next-Cursor")
            if not cursor:
                return ids

    def _check(self, settled: bool, seconds: float) -> Report:
        reports = []
        acked_by_id = {mid: (u, peer) for u in self.users for mid, (peer, _t) in u.acked.items()}
        by_id = {u.user_id: u for u in self.users}
        for user in self.users:
            stored, position = self._stored(user)
            seen = set(user.seen)
            peers = {peer for peer, _text in user.acked.values()}
            history: set[str] = set()
            for peer in peers:
                history |= self._history(user, peer)
            undelivered = [
                mid for mid, (sender, peer) in acked_by_id.items() if peer == user.user_id and mid not in user.received
            ]
            reports.append(
                UserReport(
                    name=user.name,
                    sent=user.sent,
                    acked=len(user.acked),
                    events=len(seen),
                    connects=user.connects,
                    drops=user.drops,
                    position=position,
                    lost=sorted(set(stored) - seen),
                    duplicates=sorted(user.duplicates),
                    disorder=user.disorder,
                    unstored=sorted(seen - set(stored)),
                    never_stored=len(set(range(1, position + 1)) - set(stored)),
                    resets=user.resets,
                    missing_in_history=sorted(mid for mid in user.acked if mid not in history),
                    undelivered=sorted(undelivered),
                    delivered_unacked=sorted(
                        mid
                        for mid, sender in user.received.items()
                        if mid not in acked_by_id or by_id.get(sender) is not acked_by_id[mid][0]
                    ),
                )
            )
        return Report(reports, self.restarts, settled, seconds)
