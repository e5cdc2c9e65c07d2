"""The web client's files as the server hands them out (no browser needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.live import ROOT

BUNDLE = "/web/vendor/socket.io.min.js"


def test_page_is_served_at_root_with_a_strict_csp(app: Any) -> None:
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    page = response.get_data(as_text=True)
    assert '<script src="/web/app.js"' in page and f'<script src="{BUNDLE}"' in page
    assert "npm install" in page  # what the page shows when socket.io-client is missing


def test_static_files_and_the_socketio_bundle_from_node_modules(app: Any) -> None:
    client = app.test_client()
    for path, mimetype in (
        ("/web/app.js", "text/javascript"),
        ("/web/style.css", "text/css"),
        ("/web/favicon.svg", "image/svg+xml"),
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == mimetype, path
        assert "Content-Security-Policy" not in response.headers  # the policy is the page's alone
    bundle = client.get(BUNDLE)
    assert bundle.status_code == 200
    assert bundle.mimetype == "text/javascript"
    expected = ROOT / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
    assert bundle.get_data() == expected.read_bytes()


def test_without_node_modules_the_page_still_loads_and_the_bundle_is_a_json_404(app: Any, tmp_path: Path) -> None:
    app.config["WEB_NODE_MODULES"] = str(tmp_path / "no-node-modules")
    client = app.test_client()
    assert client.get("/").status_code == 200
    response = client.get(BUNDLE)
    assert response.status_code == 404
    body = response.get_json()
    assert body["code"] == "client_not_installed" and "npm install" in body["message"]


def test_unknown_paths_stay_json_404_and_the_api_is_untouched(app: Any) -> None:
    client = app.test_client()
    for path in ("/web/nope.js", "/web/../config.py", "/nope"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["code"] == "not_found", path
    health = client.get("/healthz")
    assert health.status_code == 200 and "Content-Security-Policy" not in health.headers
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "/" not in paths and not any(p.startswith("/web") for p in paths)
