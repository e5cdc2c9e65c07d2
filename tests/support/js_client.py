"""A short conversation driven by the official JavaScript socket.io-client (tests/js/socket_client.mjs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from tests.support.live import ROOT
from tests.support.sockets import LiveApi, LiveUser

SCRIPT = ROOT / "tests" / "js" / "socket_client.mjs"


def run_conversation(base_url: str, alice: LiveUser, bob: LiveUser) -> dict[str, Any]:
    """Alice and Bob connect (after a refused bad token), message, type and read; what happened."""
    node = shutil.which("node")
    assert node, "Node.js is required (make install / .ci/run install it)"
    assert (ROOT / "node_modules" / "socket.io-client").is_dir(), "run `make install` to fetch socket.io-client"
    completed = subprocess.run(
        [node, str(SCRIPT), base_url, alice.token, alice.id, bob.token, bob.id],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def check_conversation(result: dict[str, Any], live: LiveApi, alice: LiveUser, bob: LiveUser) -> None:
    assert result["refused"] == "Unauthorized"
    assert result["ack"]["ok"] is True and result["ack"]["message"]["text"] == "hello from node"
    assert result["received"]["_id"] == result["ack"]["message"]["_id"]
    assert result["received"]["senderId"] == alice.id
    assert result["typing"] == {"from": bob.id, "chatId": result["received"]["chatId"]}
    assert result["readAck"] == {"ok": True, "updated": 1}
    assert result["read"]["readerId"] == bob.id and result["read"]["messageIds"] == [result["received"]["_id"]]
    assert result["transports"] == ["websocket", "websocket"]
    history = live.call("GET", f"/api/messages/{bob.id}", alice).json()
    assert history[-1]["status"] == "read"
