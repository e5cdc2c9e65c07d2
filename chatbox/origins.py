"""Which web origins may act on a user's behalf: `CLIENT_URL` and the server's own origin.

One policy for Socket.IO's handshake and for cookie-authenticated REST requests (chatbox/security.py).
The server's own host comes from the `Host` header, or from `X-Forwarded-Host` only when
`PROXY_FIX_HOPS` says there are proxies in front whose headers can be trusted (then, as werkzeug's
ProxyFix does, the value that many hops from the right); with `PROXY_FIX_HOPS=0` anyone could send
that header, so it is ignored.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def _trusted_forwarded(environ: dict[str, Any], key: str, hops: int) -> str | None:
    if hops <= 0:
        return None
    values = [v.strip() for v in str(environ.get(key, "")).split(",") if v.strip()]
    return values[-hops] if len(values) >= hops else None


def origin_of_url(url: str) -> str | None:
    """`scheme://host[:port]` of a URL (a Referer), or None when it has none."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class OriginPolicy:
    def __init__(self, client_urls: list[str], proxy_hops: int) -> None:
        self.allowed = {url.strip().rstrip("/").lower() for url in client_urls if url.strip()}
        self.proxy_hops = proxy_hops

    def own_host(self, environ: dict[str, Any]) -> str:
        host = _trusted_forwarded(environ, "HTTP_X_FORWARDED_HOST", self.proxy_hops)
        return (host or str(environ.get("HTTP_HOST", ""))).lower()

    def allows(self, origin: str, environ: dict[str, Any]) -> bool:
        """Is `origin` (`scheme://host[:port]`) one of CLIENT_URL's or the server's own?

        The server's own host counts under either scheme: behind a TLS proxy that is not declared in
        PROXY_FIX_HOPS the server cannot know which one its clients see, and either way the page
        that sent the request came from this very host.
        """
        origin = origin.strip().rstrip("/").lower()
        if origin in self.allowed:
            return True
        host = self.own_host(environ)
        return bool(host) and origin in {f"http://{host}", f"https://{host}"}

    def socketio_check(self, origin: str | None, environ: dict[str, Any]) -> bool:
        """For python-socketio's `cors_allowed_origins`: a handshake without Origin (not a browser) passes."""
        return origin is None or self.allows(origin, environ)
