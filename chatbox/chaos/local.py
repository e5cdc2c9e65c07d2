"""The kit's local mode: two ChatBox nodes in this process, a real redis-server between them, one
embedded database shared by both (as processes share MongoDB), and a restart of node 2 mid-run.

On the embedded database a separate process would start empty, so the restart here stops node 2's
server and background work abruptly (its open connections cut, its in-flight work killed) and starts a
fresh instance of the app on the same port, which finds everything the other node and the database
kept. What it proves: resume, replay and ordering across a node that goes away and comes back, with
Redis in between. What it cannot: a process's own memory surviving nothing (it is the same process).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

import gevent
from gevent import pywsgi

from chatbox.processes import start_redis_server

SECRET = "chaos-kit-local-secret-" + "x" * 32


class LocalNode:
    def __init__(self, redis_url: str, upload_dir: Path, port: int = 0, overrides: dict[str, Any] | None = None):
        from chatbox import create_app
        from chatbox.realtime.websocket import BoundedWebSocketHandler

        self.app = create_app(
            {
                "REDIS_URL": redis_url,
                "JWT_SECRET_KEY": SECRET,
                "SECRET_KEY": SECRET,
                "RATELIMIT_ENABLED": False,
                "UPLOAD_DIR": str(upload_dir),
                **(overrides or {}),
            }
        )
        self.server = pywsgi.WSGIServer(
            ("127.0.0.1", port), self.app, handler_class=BoundedWebSocketHandler, log=None, error_log=None
        )
        self.server.start()

    @property
    def port(self) -> int:
        return int(self.server.address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop abruptly: connections cut, in-flight handlers killed, background work ended."""
        from chatbox import socketio_of

        # Cut every connection at once, as the kernel does when a process dies (killing the server's
        # greenlets alone would leave the clients' TCP connections open until a ping times out).
        engine = socketio_of(self.app).server.eio
        for connection in list(engine.sockets.values()):
            with contextlib.suppress(Exception):
                connection.close(wait=False, abort=True)
        self.server.stop(timeout=0)
        self.app.extensions["chatbox"].stop()


class LocalPair:
    """Two nodes and a redis-server; `restart()` kills node 2 and starts it again on its port."""

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="chatbox-chaos-"))
        self.overrides = overrides or {}
        self.redis = start_redis_server(self.workdir)
        self.nodes = [LocalNode(self.redis.url, self.workdir / f"uploads-{i}", 0, self.overrides) for i in range(2)]

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def restart(self) -> None:
        port = self.nodes[1].port
        self.nodes[1].stop()
        gevent.sleep(0.5)  # down for a moment: clients fail over or retry
        self.nodes[1] = LocalNode(self.redis.url, self.workdir / "uploads-1", port, self.overrides)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        self.redis.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
