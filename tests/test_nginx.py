"""The deployment guide's nginx configuration, run for real in front of two nodes joined by Redis.

The `nginx` block is taken from docs/deployment.md as written; only what a test machine must change
is changed (listen on a loopback port without TLS, the two nodes' ports as upstreams). The official
socket.io-client then connects through it the way it does by default: long-polling first, then an
upgrade to a websocket. With two upstreams that works only if every request of a session reaches the
same node, i.e. only if the configuration's sticky sessions work. (Every client here comes from
127.0.0.1, so `hash $remote_addr` puts both users on one node; messages between nodes through Redis
are tests/test_two_nodes.py's subject.) Files need no shared volume: every node serves every upload.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chatbox.processes import free_port, start_redis_server
from tests.support.files import image_bytes
from tests.support.inprocess import Node, start_node
from tests.support.js_client import check_conversation, run_conversation
from tests.support.live import ROOT
from tests.support.sockets import LiveApi, wait_until

SECRET = "nginx-test-secret-" + "x" * 32
GUIDE = ROOT / "docs" / "deployment.md"
UPSTREAM_SERVER = re.compile(r"^\s*server 127\.0\.0\.1:\d+ .*;\n", re.MULTILINE)


def guide_config(listen_port: int, nodes: list[Node]) -> str:
    """The guide's nginx block, on a loopback port without TLS, with these nodes as its upstreams."""
    blocks = [b for b in re.findall(r"```nginx\n(.*?)```", GUIDE.read_text(), re.DOTALL) if "upstream chatbox" in b]
    assert len(blocks) == 1, "docs/deployment.md should hold one nginx block with the chatbox upstream"
    config = blocks[0]
    assert len(UPSTREAM_SERVER.findall(config)) >= 2 and "listen 443 ssl http2;" in config
    upstreams = "".join(f"    server {n.url.removeprefix('http://')};\n" for n in nodes)
    replaced: list[str] = []

    def our_nodes(_match: re.Match[str]) -> str:
        replaced.append("")
        return upstreams if len(replaced) == 1 else ""

    config = UPSTREAM_SERVER.sub(our_nodes, config)
    return config.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{listen_port};")


def nginx_conf(workdir: Path, site: str) -> str:
    return f"""
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
worker_processes 1;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
{site}
}}
"""


@dataclass
class BehindNginx:
    url: str
    nodes: list[Node]
    error_log: Path

    def upstream_errors(self) -> list[str]:
        """nginx's complaints about the nodes (a connection one of them closed too early, and so on)."""
        lines = self.error_log.read_text().splitlines() if self.error_log.exists() else []
        return [line for line in lines if "upstream" in line]


@pytest.fixture
def behind_nginx(tmp_path: Path) -> Iterator[BehindNginx]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is required: apt-get install -y nginx (.ci/run installs it)"
    redis_server = start_redis_server(tmp_path)
    config = {"REDIS_URL": redis_server.url, "JWT_SECRET_KEY": SECRET, "SECRET_KEY": SECRET, "PROXY_FIX_HOPS": 1}
    nodes = [start_node(tmp_path / f"uploads-{i}", config) for i in range(2)]
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_conf(tmp_path, guide_config(port, nodes)))
    # master_process off: one process, stopped by its PID like every server a test starts.
    process = subprocess.Popen(
        [nginx, "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log"),
         "-g", "daemon off; master_process off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: process.poll() is not None or _answers(url), "nginx to start")
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        yield BehindNginx(url, nodes, tmp_path / "error.log")
    finally:
        process.terminate()
        process.wait(timeout=10)
        for node in nodes:
            node.stop()
        redis_server.stop()


def _answers(url: str) -> bool:
    import requests

    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_socket_io_client_works_through_the_guides_nginx_config(behind_nginx: BehindNginx) -> None:
    live = LiveApi(behind_nginx.url)
    alice, bob = live.signup("Nginx Alice"), live.signup("Nginx Bob")
    result = run_conversation(behind_nginx.url, alice, bob)
    check_conversation(result, live, alice, bob)
    # Not one request failed on its way to a node (nginx would have retried it on the other node).
    assert behind_nginx.upstream_errors() == []


def test_an_upload_through_nginx_is_served_by_every_node_without_a_shared_volume(behind_nginx: BehindNginx) -> None:
    """The guide's nodes keep files in GridFS (the default): each node here has its own UPLOAD_DIR,
    and whichever node nginx picked for the upload, every node serves it."""
    live = LiveApi(behind_nginx.url)
    alice, bob = live.signup("Nginx Alice"), live.signup("Nginx Bob")
    photo = image_bytes("PNG", (900, 600))
    sent = live.call("POST", f"/api/messages/send/{bob.id}", alice, files={"images": ("big.png", photo, "image/png")})
    assert sent.status_code == 201, sent.text
    attachment = sent.json()["attachments"][0]
    assert len({n.app.config["UPLOAD_DIR"] for n in behind_nginx.nodes}) == len(behind_nginx.nodes)
    for node in behind_nginx.nodes:
        direct = LiveApi(node.url)
        assert direct.call("GET", attachment["url"], bob).content == photo
        assert direct.call("GET", attachment["thumbUrl"], bob).status_code == 200
    through = live.call("GET", attachment["url"], bob, headers={"Range": "bytes=0-7"})
    assert through.status_code == 206 and through.content == photo[:8]
