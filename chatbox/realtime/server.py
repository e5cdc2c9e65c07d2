"""Options for the Socket.IO server and the presence store, chosen from configuration.

Everything here is built per app: two apps in one process get two Socket.IO client managers, two
Redis pools and two presence stores (they share only the database connection).
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import redis
import socketio

from chatbox.origins import OriginPolicy
from chatbox.realtime.bus import EventBus, LocalBus, RedisBus
from chatbox.realtime.connections import user_went_offline
from chatbox.realtime.presence import MemoryPresence, PresenceStore
from chatbox.realtime.redis_presence import RedisPresence, redis_client
from chatbox.realtime.sequencer import Sequencer
from chatbox.realtime.websocket import ENGINEIO_POLLING_CLIENT_TYPES, engineio_packet_is_valid
from chatbox.redis_health import RedisHealth

if TYPE_CHECKING:
    from flask import Flask

    from chatbox.runtime import Runtime

log = logging.getLogger("chatbox.realtime")

QUEUE_CHANNEL = "chatbox-socketio"
REDIS_POOL_TIMEOUT_SECONDS = 10.0
HEARTBEAT_KEY = "chatbox.heartbeat"
PAYLOAD_SEPARATOR = "\x1e"  # between the packets of one Engine.IO long-polling payload
# The app's event bus (chatbox/realtime/bus.py), set by the factory; started here with REDIS_URL.
EVENT_BUS_KEY = "chatbox.event_bus"


class QueueManager(socketio.RedisManager):
    """python-socketio's Redis manager with a pool that waits for a connection instead of failing, and
    that fails fast and says so when Redis is unreachable.

    The stock manager builds `redis.Redis.from_url(url)`, whose pool holds at most 100 connections:
    past 100 concurrent emits redis-py raises "Too many connections", the manager reconnects and
    messages are lost (shared/FINDINGS.md). A `BlockingConnectionPool` of `max_connections` makes
    an emit beyond the cap wait its turn for up to `pool_timeout` seconds.

    The stock manager also logs a failed publish and returns as if the event had gone out, after
    waiting for Redis as long as the connection lets it. Here a publish waits at most `timeout`
    seconds, is refused at once while `health` knows Redis is down, and raises `QueueUnavailable`
    (503 `queue_unavailable`) instead of dropping the event silently. The listener reconnects every
    `LISTEN_RETRY_SECONDS` at most (the stock one backs off up to a minute), so a process recovers
    soon after Redis returns; its connection has no read timeout, since it waits for events.
    """

    LISTEN_RETRY_SECONDS = 1.0
    # A message of ChatBox's own on the same channel: "the sessions of this user changed" (a logout, a
    # password change, an administrator's action, a profile or block change). python-socketio's
    # listener ignores methods it does not know; `_listen` hands these to `on_sessions_changed`.
    SESSIONS_METHOD = "chatbox-sessions-changed"
    _SESSIONS_MARK = b'"chatbox-sessions-changed"'

    def __init__(
        self,
        url: str,
        max_connections: int,
        health: RedisHealth,
        timeout: float,
        pool_timeout: float = REDIS_POOL_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(url, channel=QUEUE_CHANNEL, redis_options={"max_connections": max_connections})
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        self.health = health
        self.timeout = timeout
        # Set by the app's SessionGuard: (user id, whether to re-check its sockets) for each change
        # another process announced; and whether this process hears the channel now (False when the
        # listener lost Redis: announcements made meanwhile are missed).
        self.on_sessions_changed: Callable[[str, bool], None] | None = None
        self.on_listening: Callable[[bool], None] | None = None

    def announce_sessions_changed(self, user_id: str, recheck: bool) -> None:
        """Tell every other process on the channel (raises QueueUnavailable when Redis is down)."""
        self._publish({"method": self.SESSIONS_METHOD, "user_id": user_id, "recheck": recheck, "host_id": self.host_id})

    def _listen(self) -> Any:
        for data in super()._listen():
            # Cheap test first: an emit's payload may contain the mark too, and is then passed on.
            if not (isinstance(data, bytes) and self._SESSIONS_MARK in data and self._sessions_changed(data)):
                yield data

    def _sessions_changed(self, data: bytes) -> bool:
        """Handle `data` if it is a sessions-changed message; False if it is something else."""
        try:
            message = json.loads(data)
        except ValueError:
            return False
        if not isinstance(message, dict) or message.get("method") != self.SESSIONS_METHOD:
            return False
        try:
            if message.get("host_id") != self.host_id and self.on_sessions_changed is not None:
                self.on_sessions_changed(str(message["user_id"]), bool(message.get("recheck")))
        except Exception:
            log.exception("could not handle a sessions-changed message")
        return True

    def _listening(self, listening: bool) -> None:
        if self.on_listening is not None:
            self.on_listening(listening)

    def _redis_connect(self) -> None:
        if "+sentinel" in self.redis_url:  # pragma: no cover - sentinel keeps the stock behaviour
            super()._redis_connect()
            return
        # A publish beyond the pool's cap still waits its turn (pool_timeout); what is bounded is the
        # wait for Redis itself, so that a Redis that stopped answering is noticed at once.
        self.redis = redis_client(self.redis_url, self.max_connections, self.pool_timeout, socket_timeout=self.timeout)
        listener = redis.Redis.from_url(self.redis_url, socket_connect_timeout=self.timeout, socket_keepalive=True)
        self.pubsub = listener.pubsub(ignore_subscribe_messages=True)
        self.connected = True

    def _publish(self, data: Any) -> Any:
        self.health.ensure_available()
        try:
            if not self.connected:
                self._redis_connect()
            return self.redis.publish(self.channel, self.json.dumps(data))
        except (redis.RedisError, OSError) as exc:
            self.connected = False
            raise self.health.failed(exc) from exc

    def _redis_listen_with_retries(self) -> Any:
        subscribed = False
        while True:
            try:
                if not subscribed:
                    self._redis_connect()
                    self.pubsub.subscribe(self.channel)
                    subscribed = True
                    self._listening(True)
                yield from self.pubsub.listen()
            except Exception as exc:
                log.warning("Socket.IO queue listener lost Redis (%s); retrying", type(exc).__name__)
                subscribed = False
                self._listening(False)
                time.sleep(self.LISTEN_RETRY_SECONDS)


def socketio_options(config: dict[str, Any], health: RedisHealth | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {
        "async_mode": "gevent",
        # Each client's events run one after another in its connection's own greenlet: messages a
        # client sends without waiting for acks are stored (and numbered) in the order sent, whatever
        # the database's latency; other clients are unaffected, and no greenlet is spawned per event.
        "async_handlers": False,
        # CLIENT_URL origins, plus the server's own origin (the bundled web client, and clients such as
        # websocket libraries that send the server's URL as Origin).
        "cors_allowed_origins": OriginPolicy(config["CLIENT_URLS"], config["PROXY_FIX_HOPS"]).socketio_check,
        "cors_credentials": True,
        "json": json,
        "max_http_buffer_size": config["MAX_JSON_BYTES"],
        "ping_interval": config["SOCKET_PING_INTERVAL_SECONDS"],
        "ping_timeout": config["SOCKET_PING_TIMEOUT_SECONDS"],
        "logger": False,
        "engineio_logger": False,
    }
    if health is not None:
        options["client_manager"] = QueueManager(
            config["REDIS_URL"], config["REDIS_MAX_CONNECTIONS"], health, config["REDIS_TIMEOUT_MS"] / 1000
        )
    return options


class UnclaimedConnectionCloser:
    """Closes Engine.IO connections that go `seconds` without a signed-in Socket.IO session.

    The Engine.IO connection opens before Socket.IO's CONNECT carries a token, and python-socketio
    keeps it open for as long as the client answers pings: after a refused CONNECT, and after the
    session ends while the connection stays (the client leaves the namespace, or the server drops a
    session whose token stopped being valid). socket.io for Node closes such connections after its
    `connectTimeout`; python-socketio has nothing, and unclaimed connections would let anyone hold the
    process's connections and memory without an account.

    A connection is watched from when it opens and again whenever its session ends. One sweeping
    greenlet checks the watched connections and ends when there are none; a greenlet per connection
    would cost each open socket memory of its own.
    """

    def __init__(self, server: socketio.Server, seconds: float) -> None:
        self.server = server
        self.seconds = seconds
        self.unclaimed_since: dict[str, float] = {}
        self.sweeping = False
        self._on_engine_connect = server.eio.handlers["connect"]
        server.eio.on("connect", self._engine_connected)

    def _engine_connected(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        accepted = self._on_engine_connect(eio_sid, environ)
        if accepted is not False:
            self.watch(eio_sid)
        return accepted

    def watch(self, eio_sid: str | None) -> None:
        """Start the clock for a connection that has no session (it opened, or its session ended)."""
        engine_socket = self.server.eio.sockets.get(eio_sid) if eio_sid else None
        if engine_socket is None or engine_socket.closing or engine_socket.closed:
            return  # the connection itself is going: nothing to watch
        self.unclaimed_since[engine_socket.sid] = time.monotonic()
        if not self.sweeping:
            self.sweeping = True
            self.server.start_background_task(self._sweep)

    def _sweep(self) -> None:
        try:
            while self.unclaimed_since:
                self.server.sleep(min(1.0, self.seconds / 2))
                self.sweep_once(time.monotonic())
        finally:
            self.sweeping = False

    def sweep_once(self, now: float) -> None:
        eio, manager = self.server.eio, self.server.manager
        for eio_sid, since in list(self.unclaimed_since.items()):
            engine_socket = eio.sockets.get(eio_sid)
            sid = manager.sid_from_eio_sid(eio_sid, "/")
            # is_connected, not just a sid: python-socketio assigns the sid before CONNECT is accepted.
            if engine_socket is None or engine_socket.closed or (sid is not None and manager.is_connected(sid, "/")):
                del self.unclaimed_since[eio_sid]
            elif now - since >= self.seconds:
                del self.unclaimed_since[eio_sid]
                try:
                    # Without waiting: a polling client that never polls again would never drain the queue.
                    engine_socket.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)
                except Exception:
                    log.exception("could not close an unclaimed connection")


class MalformedPacketGuard:
    """Drops Socket.IO packets that python-socketio cannot take (`44`, `4\\x00`, `42[]`, bad JSON...),
    which it would otherwise answer with an exception and a traceback in the log for each one.

    A dropped packet counts against the connection's event budget (`RATELIMIT_SOCKET_EVENTS`, keyed
    like the events' by the socket's sid, or by the Engine.IO connection before a sign-in), and a
    connection that goes on after being over budget is closed like an event flooder. At most one
    short line per connection per `log_interval` seconds reaches the log, never the packet itself (it
    may hold a token). Registered as the Engine.IO server's "message" handler, around python-socketio's.
    """

    MALFORMED = (ValueError, TypeError, KeyError, IndexError, AttributeError, UnicodeError)

    def __init__(self, server: socketio.Server, rt: Runtime, log_interval: float = 60.0) -> None:
        self.server = server
        self.rt = rt
        self.log_interval = log_interval
        self.last_logged: dict[str, float] = {}
        self.dropped = 0
        self._on_message = server.eio.handlers["message"]
        server.eio.on("message", self._message)

    def _message(self, eio_sid: str, data: Any) -> Any:
        try:
            return self._on_message(eio_sid, data)
        except self.MALFORMED as exc:
            self.drop(eio_sid, type(exc).__name__)
            return None

    def drop(self, eio_sid: str, what: str) -> None:
        """Count and (at most once a minute per connection) log one malformed packet or payload."""
        self.dropped += 1
        self._note(eio_sid, what)
        self._count(eio_sid)

    def _note(self, eio_sid: str, what: str) -> None:
        now = time.monotonic()
        if now - self.last_logged.get(eio_sid, -self.log_interval) < self.log_interval:
            return
        # Forget connections not heard of for a whole interval: the map stays as small as the log.
        for key, at in list(self.last_logged.items()):
            if now - at >= self.log_interval:
                del self.last_logged[key]
        self.last_logged[eio_sid] = now
        log.warning("dropped malformed Socket.IO packets from connection %s (%s)", eio_sid[:40], what)

    def _count(self, eio_sid: str) -> None:
        config, limiter = self.rt.config, self.rt.limiter
        key = self.server.manager.sid_from_eio_sid(eio_sid, "/") or eio_sid
        try:
            if limiter.allows(config["RATELIMIT_SOCKET_EVENTS"], "socket", key):
                return
            if limiter.allows(config["RATELIMIT_SOCKET_REFUSALS"], "socket-refusals", key):
                return
        except Exception:  # the shared counters are unreachable: the packet is dropped all the same
            return
        engine_socket = self.server.eio.sockets.get(eio_sid)
        if engine_socket is not None and not engine_socket.closed:
            log.warning("closing connection %s: it kept sending malformed packets", eio_sid)
            self.server.start_background_task(
                engine_socket.close, wait=False, reason=self.server.eio.reason.SERVER_DISCONNECT
            )


class PollingPayloadGuard:
    """WSGI middleware in front of Flask-SocketIO's: a long-polling POST whose Engine.IO payload
    python-engineio could not take (an empty packet, a packet not starting with the digit of a type a
    client may send, bad base64) is answered 400 `bad_request` here and counted by the
    `MalformedPacketGuard`. python-engineio would log a traceback for each such request and answer 200,
    or, for a packet type it does not expect, hold the request until the session times out. (Over a
    websocket, the handler closes the connection on such a message: chatbox/realtime/websocket.py.)"""

    BAD_PAYLOAD = json.dumps({"message": "The Engine.IO payload is malformed.", "code": "bad_request"}).encode()

    def __init__(
        self, app: Callable[..., Any], guard: MalformedPacketGuard, max_bytes: int, path: str = "socket.io"
    ) -> None:
        self.app = app
        self.guard = guard
        self.max_bytes = max_bytes
        self.path = "/" + path.strip("/") + "/"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") != "POST" or not str(environ.get("PATH_INFO", "")).startswith(self.path):
            return self.app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length <= 0 or length > self.max_bytes:
            return self.app(environ, start_response)  # nothing to read, or python-engineio refuses the size
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        if _payload_is_valid(body):
            return self.app(environ, start_response)
        sid = parse_qs(str(environ.get("QUERY_STRING", ""))).get("sid", [""])[0]
        self.guard.drop(sid or "(no session)", "bad polling payload")
        start_response(
            "400 BAD REQUEST",
            [("Content-Type", "application/json"), ("Content-Length", str(len(self.BAD_PAYLOAD)))],
        )
        return [self.BAD_PAYLOAD]


def _payload_is_valid(body: bytes) -> bool:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(
        engineio_packet_is_valid(packet, ENGINEIO_POLLING_CLIENT_TYPES) for packet in text.split(PAYLOAD_SEPARATOR)
    )


def build_redis_health(config: dict[str, Any]) -> RedisHealth | None:
    if not config.get("REDIS_URL"):
        return None
    return RedisHealth(config["REDIS_URL"], config["REDIS_TIMEOUT_MS"] / 1000)


def build_presence(config: dict[str, Any]) -> PresenceStore:
    if config.get("REDIS_URL"):
        timeout = config["REDIS_TIMEOUT_MS"] / 1000
        client = redis_client(
            config["REDIS_URL"], config["REDIS_MAX_CONNECTIONS"], REDIS_POOL_TIMEOUT_SECONDS, socket_timeout=timeout
        )
        return RedisPresence(client, config["PRESENCE_TTL_SECONDS"])
    return MemoryPresence()


def build_sequencer(config: dict[str, Any], server: socketio.Server) -> Sequencer:
    """This process's sequencer: it sends each local socket its user's durable events, in order."""

    def emit(sid: str, event: str, args: tuple[Any, dict[str, int]]) -> None:
        # To this process's own socket only: the event reached every process already.
        server.emit(event, args, to=sid, ignore_queue=True)

    return Sequencer(
        emit,
        gap_seconds=config["EVENT_GAP_MS"] / 1000,
        check_seconds=config["EVENT_CHECK_SECONDS"],
        spawn=server.start_background_task,
    )


def build_event_bus(config: dict[str, Any], sequencer: Sequencer, server: socketio.Server) -> EventBus:
    if not config.get("REDIS_URL"):
        return LocalBus(sequencer)
    url, connections, timeout = config["REDIS_URL"], config["REDIS_MAX_CONNECTIONS"], config["REDIS_TIMEOUT_MS"] / 1000
    publisher = redis_client(url, connections, REDIS_POOL_TIMEOUT_SECONDS, socket_timeout=timeout)
    listener = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_keepalive=True)
    health = getattr(server.manager, "health", None)
    return RedisBus(publisher, sequencer, spawn=server.start_background_task, listener=listener, health=health)


def queue_status(health: RedisHealth | None) -> str:
    """ "disabled" on a single process; otherwise whether Redis answers now."""
    if health is None:
        return "disabled"
    return "ok" if health.probe() else "error"


class PresenceHeartbeat:
    """Keeps this process's presence alive in Redis and cleans up after processes that died.

    Every `interval` seconds (a third of the TTL): refresh this node's key, then reap dead nodes
    and call `on_offline(user_id)` for each user that a dead node left offline. After a failed beat,
    or as soon as `health` has seen Redis fail, it beats every `RETRY_SECONDS` until a beat succeeds:
    a Redis that restarted empty gets this node's sockets and views back at once.
    """

    RETRY_SECONDS = 1.0

    def __init__(
        self,
        presence: RedisPresence,
        interval: float,
        on_offline: Callable[[str], None],
        spawn: Callable[..., Any],
        health: RedisHealth | None = None,
    ) -> None:
        self.presence = presence
        self.interval = interval
        self.on_offline = on_offline
        self._spawn = spawn
        self._stop = threading.Event()
        self.health = health
        self.beats = 0

    def _outages(self) -> int:
        return self.health.outages if self.health is not None else 0

    def start(self) -> PresenceHeartbeat:
        self._spawn(self.run)
        return self

    def beat(self) -> None:
        self.presence.refresh()
        for user_id in self.presence.reap_dead_nodes():
            try:
                self.on_offline(user_id)
            except Exception:
                log.exception("could not announce that %s went offline", user_id)
        self.beats += 1

    def run(self) -> None:
        while not self._stop.is_set():
            outages = self._outages()
            try:
                self.beat()
                wait = self.interval
            except redis.RedisError as exc:
                log.error("presence heartbeat failed: Redis unavailable (%s); retrying", type(exc).__name__)
                wait = min(self.interval, self.RETRY_SECONDS)
            except Exception:
                log.exception("presence heartbeat failed; retrying")
                wait = min(self.interval, self.RETRY_SECONDS)
            deadline = time.monotonic() + wait
            while not self._stop.is_set() and self._outages() == outages:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._stop.wait(min(left, self.RETRY_SECONDS))

    def stop(self, unregister: bool = False) -> None:
        """Stop refreshing; with `unregister`, drop this node's key so the others reap it at once."""
        self._stop.set()
        if unregister:
            try:
                self.presence.shutdown()
            except redis.RedisError:
                log.exception("could not unregister this node's presence")


def start_scale_out(app: Flask, server: socketio.Server, rt: Runtime) -> PresenceHeartbeat | None:
    """With REDIS_URL: subscribe to the queue now and start the presence heartbeat, both as background
    tasks of this app's Socket.IO server. Without it: nothing to do.

    python-socketio subscribes its manager on the first connection to this process; until then, events
    that other processes publish for this one's future clients would be missed, so subscribe at once.
    """
    manager = server.manager
    if isinstance(manager, QueueManager) and not server.manager_initialized:
        from gevent.monkey import is_module_patched

        if is_module_patched("socket"):
            server.manager_initialized = True
            manager.initialize()
    bus = app.extensions[EVENT_BUS_KEY]
    if isinstance(bus, RedisBus):
        from gevent.monkey import is_module_patched

        # Durable events from every process, this one's included (a blocking read needs gevent's sockets).
        if is_module_patched("socket"):
            bus.start()
    presence = rt.presence
    if not isinstance(presence, RedisPresence):
        return None
    heartbeat = PresenceHeartbeat(
        presence,
        interval=presence.ttl_seconds / 3,
        on_offline=lambda user_id: user_went_offline(rt, user_id),
        spawn=server.start_background_task,
        health=manager.health if isinstance(manager, QueueManager) else None,
    )
    app.extensions[HEARTBEAT_KEY] = heartbeat
    return heartbeat.start()
