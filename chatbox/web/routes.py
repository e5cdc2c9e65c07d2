"""Serves the single-page web client and socket.io-client's browser bundle from node_modules.

The page is plain static files: everything it shows comes from the public REST API and
Socket.IO events, so it doubles as a reference client. Nothing third-party is committed:
`/web/vendor/socket.io.min.js` is read from `node_modules` (installed by `npm install`,
`make install`, `make run` and `make test`); without it the page says how to enable it.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, send_from_directory

from chatbox.errors import not_found

STATIC_DIR = Path(__file__).resolve().parent / "static"
# <repo>/node_modules; an app may point elsewhere with the `WEB_NODE_MODULES` config key.
DEFAULT_NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
SOCKETIO_BUNDLE = Path("socket.io-client") / "dist" / "socket.io.min.js"

# Only the page (an HTML document) needs a policy; everything it loads comes from this origin.
PAGE_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "connect-src 'self'",
        "font-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ]
)


blp = Blueprint("web", __name__, static_folder=str(STATIC_DIR), static_url_path="/web")


def _no_cache(response: Response) -> Response:
    # The page and its scripts change with the server; always revalidate (ETag / Last-Modified).
    response.headers["Cache-Control"] = "no-cache"
    return response


@blp.route("/")
def index() -> Response:
    response = send_from_directory(STATIC_DIR, "index.html", mimetype="text/html", max_age=0)
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return _no_cache(response)


@blp.route("/web/vendor/socket.io.min.js")
def socketio_client() -> Response:
    node_modules = Path(current_app.config.get("WEB_NODE_MODULES") or DEFAULT_NODE_MODULES)
    bundle = node_modules / SOCKETIO_BUNDLE
    if not bundle.is_file():
        raise not_found(
            "socket.io-client is not installed: run `npm install` (or `make install`) and reload.",
            "client_not_installed",
        )
    response = send_from_directory(bundle.parent, bundle.name, mimetype="text/javascript", max_age=0)
    return _no_cache(response)
