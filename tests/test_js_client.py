"""The official JavaScript socket.io-client (v4, from npm) against a real server."""

from __future__ import annotations

from tests.support.js_client import check_conversation, run_conversation
from tests.support.live import LiveServer
from tests.support.sockets import LiveApi


def test_socket_io_client_connects_sends_receives_types_and_reads(live_server: LiveServer) -> None:
    live = LiveApi(live_server.url)
    alice, bob = live.signup("Node Alice"), live.signup("Node Bob")
    result = run_conversation(live_server.url, alice, bob)
    check_conversation(result, live, alice, bob)
