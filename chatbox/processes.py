"""Local helper processes for the test suite, the benchmark and the chaos kit's local mode: free
loopback ports, a throwaway redis-server, the Procfile's gunicorn command. Everything listens on
127.0.0.1 only and is stopped by its own PID. Not used by the server itself.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[1]
START_SECONDS = 15.0


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM this process (by its own PID only), then SIGKILL it if it is still there after `timeout`."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def procfile_command(bind: str, app: str = "wsgi:app") -> list[str]:
    """The Procfile's `web` command, run by this Python, bound to `bind` instead of 0.0.0.0:$PORT
    (and serving `app` instead of wsgi:app when asked)."""
    line = (ROOT / "Procfile").read_text().split("web:", 1)[1].splitlines()[0]
    args = line.split()
    assert args[0] == "gunicorn" and "0.0.0.0:$PORT" in args and "wsgi:app" in args, line
    args = [bind if a == "0.0.0.0:$PORT" else app if a == "wsgi:app" else a for a in args[1:]]
    return [sys.executable, "-m", "gunicorn", *args]


@dataclass
class RedisServer:
    process: subprocess.Popen[Any]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def flush(self) -> None:
        self.client().flushall()

    def stop(self) -> None:
        stop_process(self.process)


def start_redis_server(workdir: Path, port: int | None = None, log_path: Path | None = None) -> RedisServer:
    """Start a redis-server that keeps nothing on disk; with `port`, on that port (to bring a stopped
    server back where clients expect it). Its output goes to `log_path`, or nowhere."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = port or free_port()
    output: Any = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen(
        [
            binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(workdir),
            "--maxclients", "10000",
        ],
        stdout=output,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    server = RedisServer(process, port)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        try:
            if server.client().ping():
                return server
        except redis.ConnectionError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError("redis-server did not answer in time")
