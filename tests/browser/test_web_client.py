"""The web client in a real browser: Debian's Chromium driven by playwright-core from node scripts.

Each test runs one script of this folder against the live gunicorn server; the script waits for
every condition with a bounded timeout, prints a JSON summary on its last line and exits non-zero
(with a failure screenshot per page in test-artifacts/) when something does not happen.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from config import build_config
from tests.support.live import ROOT, LiveServer

# Starts its own servers or browsers (the `slow` marker: pytest.ini).
pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
ARTIFACTS = ROOT / "test-artifacts"
SCRIPT_TIMEOUT_SECONDS = 240


def run_script(name: str, live_server: LiveServer) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "Node.js is needed for the browser tests (.ci/run installs it)"
    assert (ROOT / "node_modules" / "playwright-core").is_dir(), "run `npm install` (make install) first"
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    assert Path(chromium).exists(), f"{chromium} is missing: apt-get install chromium (.ci/run does)"
    env = {
        **os.environ,
        "BASE_URL": live_server.url,
        "ARTIFACTS_DIR": str(ARTIFACTS),
        "RUN_ID": uuid.uuid4().hex[:10],
        "CHROMIUM_PATH": chromium,
    }
    proc = subprocess.run(
        [node, str(HERE / name)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_SECONDS,
        check=False,
    )
    output = f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode == 0, output
    lines = proc.stdout.strip().splitlines()
    assert lines, output
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def test_two_users_chat_live_in_two_browser_contexts(live_server: LiveServer) -> None:
    result = run_script("two_users.mjs", live_server)
    assert result["statusesOnA"] == ["read", "read"]
    assert "800×500" in result["viewerCaption"]
    for shot in result["screenshots"]:
        assert Path(shot).stat().st_size > 0


def test_history_search_pin_block_logout_and_phone_layout(live_server: LiveServer) -> None:
    result = run_script("features.mjs", live_server)
    assert result["history"] == 75 and result["firstPage"] < 75
    for shot in result["screenshots"]:
        assert Path(shot).stat().st_size > 0


def test_message_lifecycle_in_two_browser_contexts(live_server: LiveServer) -> None:
    result = run_script("lifecycle.mjs", live_server)
    assert result["tombstones"] == 1
    for shot in result["screenshots"]:
        assert Path(shot).stat().st_size > 0


def test_api_docs_and_events_pages_render_with_no_network_beyond_the_server(live_server: LiveServer) -> None:
    result = run_script("docs_offline.mjs", live_server)
    assert result["operations"] >= 20
    assert result["serverEvents"] >= 9 and result["events"] > result["serverEvents"]
    for shot in result["screenshots"]:
        assert Path(shot).stat().st_size > 0


def test_an_offline_tab_catches_up_from_the_event_stream_without_a_reload(live_server: LiveServer) -> None:
    result = run_script("offline_resume.mjs", live_server)
    assert result["missed"] == 3 and result["position"] > 0


def test_client_fixes_search_title_ticks_block_notice_clear_profile_blocked_list_phone(
    live_server: LiveServer,
) -> None:
    result = run_script("client_fixes.mjs", live_server)
    for shot in result["screenshots"]:
        assert Path(shot).stat().st_size > 0


def test_three_users_in_a_group(live_server: LiveServer) -> None:
    result = run_script("group.mjs", live_server)
    assert result["readBy"] == "Read by 2 of 2"
    for shot in result["screenshots"]:
        assert Path(shot).stat().st_size > 0


def test_a_socket_refused_for_too_many_connections_is_tried_again(live_server: LiveServer) -> None:
    result = run_script("reconnect.mjs", live_server)
    limit = build_config({"CHATBOX_ENV": "testing", "JWT_SECRET": "x" * 40})["MAX_SOCKETS_PER_USER"]
    assert result["held"] == limit  # the live server runs with the default
    for shot in result["screenshots"]:
        assert Path(shot).stat().st_size > 0
