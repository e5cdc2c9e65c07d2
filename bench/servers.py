"""Processes the benchmark starts: ChatBox under gunicorn (as deployed), redis-server, the Node relay.

Every server listens on 127.0.0.1 only and is stopped by its own PID.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from chatbox.processes import free_port, procfile_command, start_redis_server, stop_process

ROOT = Path(__file__).resolve().parents[1]
NODE_RELAY_DIR = ROOT / "bench" / "node-relay"
START_SECONDS = 60.0



def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its children (gunicorn: the master and its one worker)."""
    total = 0
    for p in [pid, *children(pid)]:
        try:
            with open(f"/proc/{p}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except FileNotFoundError:
            continue
    return total


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in [pid, *children(pid)]:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except (FileNotFoundError, IndexError):
            continue
    return total


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[Any]
    url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self) -> None:
        stop_process(self.process, timeout=15)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def _wait_http(proc: Proc, path: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.process.poll() is not None:
            raise RuntimeError(f"{proc.name} exited early:\n{proc.log_tail()}")
        try:
            if requests.get(proc.url + path, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    proc.stop()
    raise RuntimeError(f"{proc.name} did not start:\n{proc.log_tail()}")


def chatbox_env(port: int, secret: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: the caller's, minus database and queue settings, which come only
    from `extra` (so a MONGO_URI in the shell never points a benchmark at a real database by accident)."""
    env = {k: v for k, v in os.environ.items() if k not in {"MONGO_URI", "MONGO_DB_NAME", "REDIS_URL"}}
    env.update(
        {
            # Production refuses the embedded database, which most benchmark runs use on purpose.
            "CHATBOX_ENV": "production" if (extra or {}).get("MONGO_URI") else "development",
            "PORT": str(port),
            "JWT_SECRET": secret,
            "RATELIMIT_ENABLED": "false",
            # Sign-up speed is not what is measured; production's 12 rounds would make setup take minutes.
            "BCRYPT_LOG_ROUNDS": "4",
            "CLIENT_URL": f"http://127.0.0.1:{port}",
            "LOG_LEVEL": "warning",
            # One load client on one address holds thousands of sockets for a few hundred users: the
            # per-address and per-user caps (which a real deployment keeps) would refuse most of them.
            "MAX_CONNECTIONS_PER_ADDRESS": "0",
            "MAX_SOCKETS_PER_USER": "0",
            **(extra or {}),
        }
    )
    return env


def start_chatbox(
    workdir: Path, secret: str, extra_env: dict[str, str] | None = None, app: str = "wsgi:app", name: str = "chatbox"
) -> Proc:
    """The Procfile's gunicorn command (gunicorn.conf.py, one gevent-websocket worker), on a loopback port."""
    port = free_port()
    env = chatbox_env(port, secret, extra_env)
    env["UPLOAD_DIR"] = str(workdir / f"uploads-{port}")
    log_path = workdir / f"{name}-{port}.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 - the child keeps it for its lifetime
    process = subprocess.Popen(
        procfile_command(f"127.0.0.1:{port}", app),
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    proc = Proc(name, process, f"http://127.0.0.1:{port}", log_path)
    _wait_http(proc, "/healthz")
    return proc


def start_redis(workdir: Path) -> Proc:
    port = free_port()
    log_path = workdir / f"redis-{port}.log"
    server = start_redis_server(workdir, port, log_path)
    return Proc("redis", server.process, server.url, log_path)


def node_relay_ready() -> str | None:
    """None when the Node relay can run, else why not."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NODE_RELAY_DIR / "node_modules" / "socket.io").is_dir():
        if shutil.which("npm") is None:
            return "npm is not installed"
        result = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent"],
            cwd=NODE_RELAY_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            return f"npm install failed: {result.stderr[-500:]}"
    return None


def start_node_relay(workdir: Path, secret: str) -> Proc:
    port = free_port()
    log_path = workdir / f"node-relay-{port}.log"
    log_file = open(log_path, "wb")  # noqa: SIM115
    process = subprocess.Popen(
        ["node", "server.js"],
        cwd=NODE_RELAY_DIR,
        env={**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "JWT_SECRET": secret},
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    proc = Proc("node-relay", process, f"http://127.0.0.1:{port}", log_path)
    _wait_http(proc, "/healthz")
    return proc
