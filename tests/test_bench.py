"""The benchmark runs from one command and judges what it claims to (figures are never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.run import database_env
from bench.servers import chatbox_env

# Starts its own servers or browsers (the `slow` marker: pytest.ini).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_a_tiny_benchmark_run_delivers_every_message_exactly_once(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    command = [
        sys.executable, "-m", "bench.run", "--sockets", "40", "--users", "8", "--hold", "1", "--pairs", "4",
        "--rates", "20", "--duration", "1", "--drain", "20", "--skip-node", "--out", str(out),
        "--group-members", "6", "--group-rate", "5",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["machine"]["database"] == "embedded (mongomock)"
    assert report["chatbox"]["capacity"]["sockets_held_after_hold"] == 40
    for run in ("chatbox", "chatbox_redis"):
        delivery = report[run]["delivery"]["20/s"]
        assert delivery["sent"] == 20 and delivery["delivered"] == 20, delivery
        assert delivery["exactly_once"] is True and delivery["duplicates"] == 0, delivery
    group = report["chatbox"]["group"]
    assert group["members"] == 6 and group["copies_expected"] == 5 * 5, group
    assert group["copies_delivered"] == 25 and group["exactly_once"] is True, group
    assert group["server_cpu_ms_per_copy"] is not None
    assert "chatbox + redis (2 proc)" in result.stdout  # the table
    assert "group of 6 at 5 msg/s: 25/25 copies" in result.stdout


def test_benchmark_servers_get_a_database_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGO_URI", "mongodb://db.example:27017")
    monkeypatch.setenv("MONGO_DB_NAME", "production")
    assert "MONGO_URI" not in chatbox_env(1234, "s") and "MONGO_DB_NAME" not in chatbox_env(1234, "s")

    assert database_env(None, "chatbox_bench_x_single") == {}
    settings = database_env("mongodb://127.0.0.1:27017", "chatbox_bench_x_single")
    assert settings == {"MONGO_URI": "mongodb://127.0.0.1:27017", "MONGO_DB_NAME": "chatbox_bench_x_single"}
    assert chatbox_env(1234, "s", settings)["MONGO_DB_NAME"] == "chatbox_bench_x_single"


def test_benchmark_servers_let_one_client_address_hold_every_socket() -> None:
    env = chatbox_env(1234, "s")
    assert env["MAX_CONNECTIONS_PER_ADDRESS"] == "0" and env["MAX_SOCKETS_PER_USER"] == "0"


def test_benchmark_refuses_a_mongo_uri_that_names_a_database() -> None:
    with pytest.raises(SystemExit, match="must not name a database"):
        database_env("mongodb://127.0.0.1:27017/production", "chatbox_bench_x_single")


def test_round_trips_per_socket_event_drop_by_the_user_read_with_the_session_cache(capsys: Any) -> None:
    from bench.round_trips import main

    assert main(["--events", "3"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    users = {(row[0], row[2]): float(row[4]) for row in rows}  # (event, "off"/"on") -> users reads
    assert len(users) == 8
    for event in ("typing", "leave-chat", "message-read", "new-message"):
        # Off: the socket's user and the event's other user; on: only the other user.
        assert (users[(event, "off")], users[(event, "on")]) == (2.0, 1.0)
