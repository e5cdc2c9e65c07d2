"""A throwaway `redis-server` on a free loopback port, for tests that need a real Redis."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from tests.support.live import free_port

START_SECONDS = 15.0


@dataclass
class RedisServer:
    process: subprocess.Popen[Any]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def flush(self) -> None:
        self.client().flushall()

    def stop(self) -> None:
        """Stop this server (by its own PID only)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_redis_server(workdir: Path, port: int | None = None) -> RedisServer:
    """Start one; with `port`, on that port (to bring a stopped server back where clients expect it)."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = port or free_port()
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
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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
