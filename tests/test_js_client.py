"""The official JavaScript socket.io-client (v4, from npm) against a real server."""

from __future__ import annotations

import json
import shutil
import subprocess

from tests.support.live import ROOT, LiveServer
from tests.support.sockets import LiveApi

SCRIPT = ROOT / "tests" / "js" / "socket_client.mjs"


def test_socket_io_client_connects_sends_receives_types_and_reads(live_server: LiveServer) -> None:
    node = shutil.which("node")
    assert node, "Node.js is required (make install / .ci/run install it)"
    assert (ROOT / "node_modules" / "socket.io-client").is_dir(), "run `make install` to fetch socket.io-client"
    live = LiveApi(live_server.url)
    alice, bob = live.signup("Node Alice"), live.signup("Node Bob")
    completed = subprocess.run(
        [node, str(SCRIPT), live_server.url, alice.token, alice.id, bob.token, bob.id],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["refused"] == "Unauthorized"
    assert result["ack"]["ok"] is True and result["ack"]["message"]["text"] == "hello from node"
    assert result["received"]["_id"] == result["ack"]["message"]["_id"]
    assert result["received"]["senderId"] == alice.id
    assert result["typing"] == {"from": bob.id}
    assert result["readAck"] == {"ok": True, "updated": 1}
    assert result["read"]["readerId"] == bob.id and result["read"]["messageIds"] == [result["received"]["_id"]]
    history = live.call("GET", f"/api/messages/{bob.id}", alice).json()
    assert history[-1]["status"] == "read"
