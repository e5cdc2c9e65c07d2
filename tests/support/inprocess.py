"""Complete ChatBox instances served inside the test process, each on its own loopback port.

Each node is its own Flask app with its own Socket.IO server, Redis pools and presence store, served by
ChatBox's own server and handler (chatbox/realtime/serving.py, as under gunicorn) in greenlets; the
nodes share only the embedded database, as real processes share MongoDB.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask

from chatbox.realtime.serving import ChatBoxHandler, ChatBoxServer


@dataclass
class Node:
    app: Flask
    server: ChatBoxServer

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
        self.rt.stop()
        self.server.stop(timeout=2)


def listener(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket set up as gunicorn sets up its own: with TCP_NODELAY (inherited by the accepted
    connections), so that an answer written in two parts is not held back until the client acknowledges
    the first (a delayed ACK: about 40 ms per request on loopback)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


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
    server = ChatBoxServer(listener(), app, handler_class=ChatBoxHandler, log=None, error_log=None)
    server.start()
    return Node(app, server)
