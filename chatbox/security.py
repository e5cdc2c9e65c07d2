"""Response headers suited to a JSON API (see SECURITY.md)."""

from __future__ import annotations

from flask import Flask, Response, request

_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-site",
}
# API answers are data, never documents: nothing in them may run, load or be framed.
API_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"
HSTS = "max-age=31536000; includeSubDomains"


def register_security_headers(app: Flask) -> None:
    production = app.config.get("CHATBOX_ENV") == "production"

    @app.after_request
    def _add_headers(response: Response) -> Response:
        for key, value in _HEADERS.items():
            response.headers.setdefault(key, value)
        if request.path.startswith("/api/"):
            if response.mimetype != "text/html":
                # The docs page (HTML) needs its scripts; the web client at / has its own policy.
                response.headers.setdefault("Content-Security-Policy", API_CSP)
            if "Cache-Control" not in response.headers:
                # Answers carry private data: no browser or proxy keeps them.
                response.headers["Cache-Control"] = "no-store"
        if production:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
