"""Serves the single-page web client at `/` and its static files under `/web/`.

The page is plain static files: everything it shows comes from the public REST API and
Socket.IO events, so it doubles as a reference client. socket.io-client's browser bundle is vendored
in `static/vendor/` (version and licence there), so the client works without Node.js.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

STATIC_DIR = Path(__file__).resolve().parent / "static"

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
