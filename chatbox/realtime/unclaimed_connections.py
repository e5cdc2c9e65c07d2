"""Closing Engine.IO connections that never sign in to Socket.IO (or stop being signed in) in time."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import socketio

if TYPE_CHECKING:
    pass


log = logging.getLogger("chatbox.realtime")


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
