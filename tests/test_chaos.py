"""The chaos kit: its local run (two in-process nodes on a real redis-server, one restarted, sockets
dropped at random) comes out clean, and its checks catch every kind of failure they name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from chatbox.chaos.kit import Report, SimUser, UserReport

ROOT = Path(__file__).resolve().parents[1]


def test_the_local_chaos_run_is_clean() -> None:
    env = {**os.environ, "CHATBOX_ENV": "testing"}
    env.pop("MONGO_URI", None)
    result = subprocess.run(
        [sys.executable, "-m", "chatbox.chaos", "--local", "--users", "5", "--messages", "20", "--time-limit", "120"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # On failure: the table, the servers' warnings (which the tail of a traceback would push out), the tail.
    warnings = [line for line in result.stderr.splitlines() if " WARNING " in line or " ERROR " in line]
    assert result.returncode == 0, "\n".join([result.stdout, *warnings[:60], result.stderr[-3000:]])
    assert "1 server restart(s)" in result.stdout and "OK: every event exactly once" in result.stdout
    rows = [line.split() for line in result.stdout.splitlines() if line.strip().startswith("user") and "ok" in line]
    assert len(rows) == 5
    # Sockets were dropped and came back (connects counts the resumptions).
    assert sum(int(row[5]) for row in rows) > 5


def _report(**problems: object) -> UserReport:
    fields: dict[str, object] = {
        "name": "user1",
        "sent": 3,
        "acked": 3,
        "events": 5,
        "connects": 2,
        "drops": 1,
        "position": 5,
        "lost": [],
        "duplicates": [],
        "disorder": [],
        "unstored": [],
        "never_stored": 0,
        "resets": 0,
        "missing_in_history": [],
        "undelivered": [],
        "delivered_unacked": [],
    }
    fields.update(problems)
    return UserReport(**fields)  # type: ignore[arg-type]


def test_every_kind_of_failure_fails_the_run_loudly() -> None:
    assert Report([_report()], restarts=1, settled=True, seconds=1).ok
    for problem in (
        {"lost": [4]},
        {"duplicates": [3]},
        {"disorder": [(4, 3)]},
        {"unstored": [6]},
        {"resets": 1},
        {"missing_in_history": ["m1"]},
        {"undelivered": ["m2"]},
        {"delivered_unacked": ["m3"]},
    ):
        report = Report([_report(), _report(name="user2", **problem)], restarts=1, settled=True, seconds=1)
        assert not report.ok, problem
        table = report.table()
        assert "FAIL" in table and "user2" in table.split("FAIL:")[1], problem
    assert not Report([_report()], restarts=0, settled=False, seconds=1).ok
    # A seq that was never stored (a write that failed) is reported, not a failure.
    assert Report([_report(never_stored=1)], restarts=1, settled=True, seconds=1).ok


def test_the_client_bookkeeping_flags_duplicates_and_disorder() -> None:
    from chatbox.chaos.kit import Kit, Settings

    kit = Kit(Settings(urls=["http://127.0.0.1:9"]))
    user = SimUser(1, "u", "t")
    for seq in (1, 2, 4, 3, 4):
        kit._apply(user, seq, "new-message")
    assert user.duplicates == [4] and user.disorder == [(4, 3)] and user.last == 4
