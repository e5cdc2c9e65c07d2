"""A ChatBox app served in this test process on a loopback port (gevent WSGI + websocket handler).

Unlike the gunicorn `live_server`, the test can reach the app's database and CLI directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gevent import pywsgi
from geventwebsocket.handler import WebSocketHandler


@contextmanager
def served_app(tmp_path: Path, overrides: dict[str, Any] | None = None) -> Iterator[tuple[Any, str]]:
    from chatbox import create_app

    app = create_app({"UPLOAD_DIR": str(tmp_path / "uploads"), "RATELIMIT_ENABLED": False, **(overrides or {})})
    server = pywsgi.WSGIServer(("127.0.0.1", 0), app, handler_class=WebSocketHandler, log=None)
    server.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.stop(timeout=5)
