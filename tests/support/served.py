"""A ChatBox app served in this test process on a loopback port (gevent WSGI + websocket handler).

Unlike the gunicorn `live_server`, the test can reach the app's database and CLI directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.inprocess import start_node


@contextmanager
def served_app(tmp_path: Path, overrides: dict[str, Any] | None = None) -> Iterator[tuple[Any, str]]:
    node = start_node(tmp_path / "uploads", overrides or {})
    try:
        yield node.app, node.url
    finally:
        node.stop()
