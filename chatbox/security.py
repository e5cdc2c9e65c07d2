"""Response headers suited to a JSON API, and the origin check of cookie-authenticated requests
(see SECURITY.md)."""

from __future__ import annotations

from flask import Flask, Response, request

from chatbox.errors import ApiError
from chatbox.origins import OriginPolicy, origin_of_url

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


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# They take no token (they hand one out): a stale cookie sent along authenticates nothing.
UNAUTHENTICATED_POSTS = frozenset({"/api/auth/signup", "/api/auth/login"})


def register_origin_check(app: Flask) -> None:
    """A state-changing request that the `jwt` cookie authenticates must come from an allowed origin.

    SameSite=Lax keeps the cookie off cross-site requests, but a sibling subdomain is same-site, and
    a form post needs no CORS permission: so the browser's `Origin` (else `Referer`) must name
    CLIENT_URL or this server, or the answer is 403 `origin_not_allowed`. A request with neither
    header is let through (browsers send `Origin` on every cross-site unsafe request; other clients
    may send nothing), and bearer-token requests are never affected: no other site can make a
    browser send our `Authorization` header.
    """
    policy = OriginPolicy(app.config["CLIENT_URLS"], app.config["PROXY_FIX_HOPS"])
    cookie_name = app.config["JWT_ACCESS_COOKIE_NAME"]

    @app.before_request
    def _check_origin() -> None:
        if request.method not in UNSAFE_METHODS or request.path in UNAUTHENTICATED_POSTS:
            return
        authorization = request.headers.get("Authorization", "")
        if authorization[:7].lower() == "bearer " and authorization[7:].strip():
            return  # flask-jwt-extended reads the header first: the cookie is not what authenticates
        if not request.cookies.get(cookie_name):
            return
        origin = request.headers.get("Origin")
        if origin is None:
            referer = request.headers.get("Referer")
            if not referer:
                return
            origin = origin_of_url(referer) or "null"
        if not policy.allows(origin, request.environ):
            raise ApiError(
                403, "Requests signed in by cookie must come from an allowed origin.", "origin_not_allowed"
            )
