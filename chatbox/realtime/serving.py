"""ChatBox's HTTP server: gevent's WSGI server and gevent-websocket's handler, with the limits a server
bound to a public address needs. The gunicorn worker (`ChatBoxWorker`, the Procfile's `-k`), the
development server (wsgi.py) and the tests' in-process servers all serve through these classes.

- `MAX_CONNECTIONS_PER_ADDRESS`: one peer address holds at most this many open connections (HTTP,
  long-polling or websocket); one more is answered 503 `too_many_connections` and closed at once.
  Behind proxies (`PROXY_FIX_HOPS` > 0) every connection comes from a proxy, so the cap is theirs to
  apply (nginx: `limit_conn`) and is off here.
- `HEADER_TIMEOUT_SECONDS`: a request whose line and headers have not all arrived this long after the
  connection opened (or after the previous request on a kept-alive connection) is dropped, so
  half-sent requests ("slowloris") cannot hold the process's connections.
- gevent answers some requests before the application sees them: a request line over 8 KB (414), a
  header line over 64 KB or more than 100 headers (431 here; gevent said 400), a request that is not
  HTTP (400). Those answers carry the API's JSON error body too.
- Request lines are logged with the `token` query parameter masked (gevent-websocket logs every
  non-websocket request line, and a polling Socket.IO client may sign in with `?token=`); under
  gunicorn the lines go to gunicorn's access log (`ACCESS_LOG`), masked the same way.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
from datetime import datetime
from typing import Any

import gevent
from gevent import pywsgi
from geventwebsocket.gunicorn.workers import GeventWebSocketWorker
from gunicorn.workers.ggevent import GeventResponse

from chatbox.realtime.websocket import BoundedWebSocketHandler

DEFAULT_HEADER_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 200
# How long the 503 for one connection too many may take to write before the connection is dropped.
REFUSAL_WRITE_SECONDS = 1.0

_TOKEN_IN_QUERY = re.compile(r"(?i)((?:^|[?&;])(?:access_)?token=)[^&;#\s\"']*")
MASK = "***"


def mask_tokens(text: str) -> str:
    """`text` (a URL, a query string or a log line) with the value of every `token=` parameter hidden."""
    return _TOKEN_IN_QUERY.sub(r"\1" + MASK, text) if "oken=" in text.lower() else text


def json_error_response(status: int, reason: str, code: str, message: str) -> bytes:
    """A complete HTTP/1.1 answer with the API's error body, for answers sent before the app runs."""
    body = json.dumps({"message": message, "code": code}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


URL_TOO_LONG = json_error_response(414, "URI Too Long", "url_too_long", "The request URL is too long.")
HEADERS_TOO_LARGE = json_error_response(
    431, "Request Header Fields Too Large", "headers_too_large", "The request headers are too large."
)
BAD_REQUEST = json_error_response(400, "Bad Request", "bad_request", "The request is not valid HTTP.")
TOO_MANY_CONNECTIONS = json_error_response(
    503, "Service Unavailable", "too_many_connections", "Too many connections from this address."
)


class HeaderTimeout(Exception):
    """Raised into a connection's greenlet when its request headers are late."""


class HeadersTimedOut(ValueError):
    """The request's headers did not arrive in time (a ValueError: gevent treats it as client input)."""


def _app_config(application: Any) -> dict[str, Any]:
    config = getattr(application, "config", None)
    return config if isinstance(config, dict) else {}


class ChatBoxServer(pywsgi.WSGIServer):
    """gevent's WSGI server, counting open connections per peer address."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        config = _app_config(self.application)
        self.header_timeout = float(config.get("HEADER_TIMEOUT_SECONDS", DEFAULT_HEADER_TIMEOUT_SECONDS))
        cap = int(config.get("MAX_CONNECTIONS_PER_ADDRESS", DEFAULT_MAX_CONNECTIONS_PER_ADDRESS))
        self.max_connections_per_address = 0 if config.get("PROXY_FIX_HOPS") else cap
        self.connections_by_address: dict[str, int] = {}
        self.refused_connections = 0

    def handle(self, sock: socket.socket, address: Any) -> None:
        peer = address[0] if isinstance(address, tuple) and address else ""
        if not peer or not self.max_connections_per_address:  # a unix socket, or no cap
            super().handle(sock, address)
            return
        open_now = self.connections_by_address.get(peer, 0)
        if open_now >= self.max_connections_per_address:
            self.refused_connections += 1
            self._refuse(sock)
            return
        self.connections_by_address[peer] = open_now + 1
        try:
            super().handle(sock, address)
        finally:
            left = self.connections_by_address.get(peer, 1) - 1
            if left > 0:
                self.connections_by_address[peer] = left
            else:
                self.connections_by_address.pop(peer, None)

    @staticmethod
    def _refuse(sock: socket.socket) -> None:
        try:
            with gevent.Timeout(REFUSAL_WRITE_SECONDS, False):
                sock.sendall(TOO_MANY_CONNECTIONS)
        except OSError:
            pass
        finally:
            sock.close()


class ChatBoxHandler(BoundedWebSocketHandler):
    """The bounded websocket handler, plus the header deadline, JSON early answers and masked logs."""

    _header_deadline: gevent.Timeout | None = None

    # --- the header deadline -----------------------------------------------------------------------

    def _start_header_deadline(self) -> None:
        seconds = getattr(self.server, "header_timeout", DEFAULT_HEADER_TIMEOUT_SECONDS)
        if seconds and seconds > 0:
            self._header_deadline = gevent.Timeout.start_new(seconds, HeaderTimeout)

    def _stop_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.close()
            self._header_deadline = None

    def handle_one_request(self) -> Any:
        self._start_header_deadline()
        try:
            result = super().handle_one_request()
        finally:
            self._stop_header_deadline()
        if isinstance(result, tuple):
            status = str(result[0])
            if status == "414":
                return status, URL_TOO_LONG
            if status == "400":
                return status, BAD_REQUEST
        return result

    def read_requestline(self) -> str:
        try:
            return str(super().read_requestline())
        except HeaderTimeout:
            return ""  # gevent closes a connection that sent no request line

    def read_request(self, raw_requestline: str) -> bool:
        try:
            return bool(super().read_request(raw_requestline))
        except HeaderTimeout as exc:
            raise HeadersTimedOut("request headers too slow") from exc
        finally:
            self._stop_header_deadline()  # the application's time is not the headers' time

    def _handle_client_error(self, ex: Exception) -> Any:
        if isinstance(ex, HeadersTimedOut):
            return None  # just close: nobody is waiting for an answer
        # Over 100 headers (http.client raises), or a header line over 64 KB (gevent marks the headers).
        too_large = getattr(getattr(self, "headers", None), "status", "") == "Line too long"
        if too_large or isinstance(ex, http.client.HTTPException):
            self.log_error("(from %s) request headers too large: %s", self.client_address, type(ex).__name__)
            return "431", HEADERS_TOO_LARGE
        response = super()._handle_client_error(ex)
        return ("400", BAD_REQUEST) if isinstance(response, tuple) else response

    # --- saying that the connection closes ---------------------------------------------------------

    def finalize_headers(self) -> None:
        super().finalize_headers()
        # An HTTP/1.1 request that asked to close (`Connection: close`) gets `Connection: close` back, as
        # RFC 9112 asks of a server that closes. pywsgi closes such a connection after the answer without
        # saying so, and nginx decides whether to keep an upstream connection from the answer alone: it
        # kept them, sometimes reused one just as the node closed it ("upstream prematurely closed
        # connection"), and retried the request on another node, which answers a long-poll of a session
        # it does not hold with 400 "Invalid session" (tests/test_nginx.py).
        if (
            self.close_connection
            and self.request_version == "HTTP/1.1"
            and not self.connection_upgraded
            and not any(name.lower() == b"connection" for name, _ in self.response_headers)
        ):
            self.response_headers.append((b"Connection", b"close"))

    # --- logs without tokens -----------------------------------------------------------------------

    def format_request(self) -> str:
        return mask_tokens(str(super().format_request()))

    def log_error(self, msg: str, *args: Any) -> None:
        try:
            message = msg % args if args else msg
        except (TypeError, ValueError):
            message = msg
        super().log_error(mask_tokens(str(message)))

    def log_request(self) -> None:
        if "101" in str(self.status):
            return  # as gevent-websocket: a websocket's "request" lasts as long as the socket
        access = getattr(getattr(self.server, "log", None), "access", None)
        if access is None or not callable(access):
            super().log_request()  # gevent-websocket's logger, through format_request (masked)
            return
        # Under gunicorn: its access log (ACCESS_LOG, format and all), with tokens masked.
        environ = dict(getattr(self, "environ", None) or {})
        for key in ("RAW_URI", "QUERY_STRING", "REQUEST_URI", "HTTP_REFERER"):
            if isinstance(environ.get(key), str):
                environ[key] = mask_tokens(environ[key])
        environ.setdefault("REQUEST_METHOD", self.command or "-")
        environ.setdefault("RAW_URI", mask_tokens(self.path or "-"))
        environ.setdefault("SERVER_PROTOCOL", self.request_version or "-")
        environ.setdefault("REMOTE_ADDR", self.client_address[0] if isinstance(self.client_address, tuple) else "-")
        status = self.status.decode() if isinstance(self.status, bytes) else str(self.status or "000")
        response = GeventResponse(status, getattr(self, "response_headers", []), self.response_length)
        headers = [(k, mask_tokens(v)) for k, v in (self.headers.items() if hasattr(self, "headers") else [])]
        finish = self.time_finish or self.time_start
        elapsed = datetime.fromtimestamp(finish) - datetime.fromtimestamp(self.time_start)
        access(response, headers, environ, elapsed)


class ChatBoxWorker(GeventWebSocketWorker):
    """The Procfile's gunicorn worker: gevent-websocket's worker serving through ChatBox's server and
    handler (gunicorn.conf.py names it; gunicorn.conf.py refuses to start with another one)."""

    server_class = ChatBoxServer
    wsgi_handler = ChatBoxHandler
