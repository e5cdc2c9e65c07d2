"""Response headers suited to a JSON API."""

from __future__ import annotations

from flask import Flask, Response

_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-site",
}


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def _add_headers(response: Response) -> Response:
        for key, value in _HEADERS.items():
            response.headers.setdefault(key, value)
        return response
