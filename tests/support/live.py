"""A real ChatBox server process (the Procfile's gunicorn command) on a loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from chatbox.processes import free_port, procfile_command, stop_process

ROOT = Path(__file__).resolve().parents[2]
QUICK_STOP_SECONDS = 10.0


def stop_gunicorn(process: subprocess.Popen[Any]) -> None:
    """Gunicorn's quick shutdown (SIGINT). Its graceful one (SIGTERM) waits, up to its graceful timeout,
    for every open connection to end, and a test's HTTP client keeps its connection alive until the end."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=QUICK_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            stop_process(process)


@dataclass
class LiveServer:
    process: subprocess.Popen[Any]
    url: str
    log_path: Path

    def stop(self) -> None:
        stop_gunicorn(self.process)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_live_server(
    upload_dir: Path, extra_env: dict[str, str] | None = None, wait_for_status: int = 200
) -> LiveServer:
    port = free_port()
    env = {
        **os.environ,
        "CHATBOX_ENV": "testing",
        "PORT": str(port),
        "UPLOAD_DIR": str(upload_dir),
        "RATELIMIT_ENABLED": "false",
        "JWT_SECRET": "live-test-secret-" + "x" * 32,
        "CLIENT_URL": f"http://127.0.0.1:{port}",
        **(extra_env or {}),
    }
    if "MONGO_URI" not in (extra_env or {}):
        env.pop("MONGO_URI", None)
    log_path = upload_dir / f"server-{port}.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 - handed to the child for its lifetime
    process = subprocess.Popen(
        procfile_command(f"127.0.0.1:{port}"),
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    server = LiveServer(process, url, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log()}")
        try:
            if requests.get(f"{url}/healthz", timeout=10).status_code == wait_for_status:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"server did not start:\n{server.log()}")
