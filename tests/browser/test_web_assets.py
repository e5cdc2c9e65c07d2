"""The web client's files as the server hands them out (no browser needed)."""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path
from typing import Any

from tests.support.live import ROOT

BUNDLE = "/web/vendor/socket.io.min.js"
VENDOR = ROOT / "chatbox" / "web" / "static" / "vendor"


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
    assert "socket.io.min.js" in page  # what the page names when its socket client did not load


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
    assert bundle.get_data() == (VENDOR / "socket.io.min.js").read_bytes()


def test_the_vendored_socketio_bundle_is_the_locked_version_with_its_licence() -> None:
    """The committed bundle is package-lock.json's socket.io-client, byte for byte, with its licence."""
    lock = json.loads((ROOT / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/socket.io-client"]["version"]
    assert lock["packages"][""]["dependencies"]["socket.io-client"] == locked
    assert (VENDOR / "VERSION").read_text().strip() == locked
    assert f"socket.io-client **{locked}**" in (VENDOR / "README.md").read_text()
    assert f"Socket.IO v{locked}" in (VENDOR / "socket.io.min.js").read_text()[:200]
    installed = ROOT / "node_modules" / "socket.io-client"
    assert json.loads((installed / "package.json").read_text())["version"] == locked, "run `npm install`"
    assert (VENDOR / "socket.io.min.js").read_bytes() == (installed / "dist" / "socket.io.min.js").read_bytes()
    assert (VENDOR / "socket.io-client.LICENSE").read_bytes() == (installed / "LICENSE").read_bytes()
    assert "playwright-core" not in lock["packages"][""].get("dependencies", {})


def test_a_python_only_install_serves_a_working_bundle_without_node_modules(app: Any) -> None:
    """Nothing of the web client is read from node_modules: a `pip install` deployment has none."""
    import chatbox.web.routes as web_routes

    assert "node_modules" not in Path(web_routes.__file__).read_text()
    assert not any("node_modules" in str(rule.rule) for rule in app.url_map.iter_rules())
    assert app.test_client().get(BUNDLE).status_code == 200


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


IMPORT = re.compile(r"""^\s*(?:import|export)\b[^'"]*?\bfrom\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]""", re.M)


def test_the_client_is_es_modules_each_served_as_javascript_from_this_origin(app: Any) -> None:
    """app.js is loaded as a module; every module it imports, transitively, is a file served here as
    JavaScript (a browser refuses a module of another MIME type), named by a relative path: no CDN."""
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert '<script src="/web/app.js" type="module"></script>' in page
    static = ROOT / "chatbox" / "web" / "static"
    seen: set[str] = set()
    todo = ["/web/app.js"]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype == "text/javascript", url
        for match in IMPORT.finditer(response.get_data(as_text=True)):
            specifier = match.group(1) or match.group(2)
            assert specifier.startswith(("./", "../")), f"{url} imports {specifier}: not a file of this server"
            todo.append(posixpath.normpath(posixpath.join(posixpath.dirname(url), specifier)))
    on_disk = {"/web/" + p.relative_to(static).as_posix() for p in static.rglob("*.js") if "vendor" not in p.parts}
    assert seen == on_disk, "every module is reachable from app.js, and every import is a file"
    assert len(seen) > 10
