"""Settings for ChatBox, read from the environment (and `.env` when present).

Every tunable number lives here so that code never carries its own literals.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from dotenv import load_dotenv

log = logging.getLogger("chatbox.config")

MIN_PRODUCTION_SECRET_LENGTH = 32
WEAK_SECRETS = {"secret", "changeme", "change-me", "jwt_secret", "password", "your_jwt_secret"}


# Limits of the public contract. They are not read from the environment: clients are written against
# them. The request schemas take them from here at import time, the actions through app.config, and the
# web client from GET /api/limits.
MESSAGE_TEXT_MAX = 5000
CLIENT_MESSAGE_ID_MAX = 64
SEARCH_QUERY_MAX = 100
PAGE_DEFAULT = 50
PAGE_MAX = 100
SYNC_PAGE_DEFAULT = 100
SYNC_PAGE_MAX = 500
MAX_IMAGES_PER_SEND = 10
FULL_NAME_MAX = 60
PASSWORD_MIN = 8
REPLY_PREVIEW_CHARS = 100


class ConfigError(RuntimeError):
    """The environment asks for something the server refuses to run with (the message names the variable)."""


# How every entry point (wsgi.py, gunicorn.conf.py) says it: one line, no traceback.
REFUSAL_PREFIX = "ChatBox cannot start: "


def refusal_line(error: ConfigError) -> str:
    return REFUSAL_PREFIX + " ".join(str(error).split())


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def build_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the Flask config mapping for the environment named by CHATBOX_ENV."""
    if environ is None:
        load_dotenv()
        environ = os.environ
    env_name = environ.get("CHATBOX_ENV", "development").strip().lower()
    if env_name not in {"development", "testing", "production"}:
        raise ConfigError(f"CHATBOX_ENV must be development, testing or production, got {env_name!r}")
    production = env_name == "production"

    jwt_secret = environ.get("JWT_SECRET", "")
    weak = len(jwt_secret) < MIN_PRODUCTION_SECRET_LENGTH or jwt_secret.lower() in WEAK_SECRETS
    if production and weak:
        raise ConfigError(
            f"JWT_SECRET must be set to a random string of at least {MIN_PRODUCTION_SECRET_LENGTH} "
            "characters in production"
        )
    if production and not environ.get("MONGO_URI"):
        raise ConfigError(
            "MONGO_URI must be set in production: without it the server runs on an in-memory database "
            "that loses everything at the first restart"
        )
    if not production and not jwt_secret:
        jwt_secret = secrets.token_urlsafe(48)
        if env_name == "development":
            log.warning("JWT_SECRET is not set: using a random key, so tokens die with this process")

    max_upload_mb = _int(environ, "MAX_UPLOAD_MB", 25)
    storage_backend = environ.get("STORAGE_BACKEND", "gridfs").strip().lower() or "gridfs"
    if storage_backend not in {"gridfs", "disk"}:
        raise ConfigError(f"STORAGE_BACKEND must be gridfs or disk, got {storage_backend!r}")
    max_image_pixels = _int(environ, "MAX_IMAGE_PIXELS", 40_000_000)
    if max_image_pixels < 1:
        raise ConfigError("MAX_IMAGE_PIXELS must be at least 1")
    storage_quota_mb = _int(environ, "STORAGE_QUOTA_MB", 1024)
    if storage_quota_mb < 0:
        raise ConfigError("STORAGE_QUOTA_MB must be 0 (no quota) or more")
    ping_interval = _int(environ, "SOCKET_PING_INTERVAL_SECONDS", 25)
    ping_timeout = _int(environ, "SOCKET_PING_TIMEOUT_SECONDS", 20)
    if ping_interval < 1 or ping_timeout < 1:
        raise ConfigError("SOCKET_PING_INTERVAL_SECONDS and SOCKET_PING_TIMEOUT_SECONDS must be at least 1")
    max_images = MAX_IMAGES_PER_SEND
    client_urls = [u.strip() for u in environ.get("CLIENT_URL", "http://localhost:5173").split(",") if u.strip()]

    return {
        "CHATBOX_ENV": env_name,
        "TESTING": env_name == "testing",
        "PORT": _int(environ, "PORT", 3000),
        # Address `make run` / `make serve` listen on (the Procfile binds 0.0.0.0 itself).
        "HOST": environ.get("HOST", "127.0.0.1"),
        "MONGO_URI": environ.get("MONGO_URI") or None,
        "MONGO_DB_NAME": environ.get("MONGO_DB_NAME", "chatbox"),
        "MONGO_TIMEOUT_MS": _int(environ, "MONGO_TIMEOUT_MS", 5000),
        "AUTO_CREATE_INDEXES": _bool(environ.get("AUTO_CREATE_INDEXES"), True),
        "REDIS_URL": environ.get("REDIS_URL") or None,
        # Reverse proxies in front of the app: their X-Forwarded-For gives the client address that
        # the per-address rate limits count (0: the peer address is the client's).
        "PROXY_FIX_HOPS": _int(environ, "PROXY_FIX_HOPS", 0),
        "REDIS_MAX_CONNECTIONS": _int(environ, "REDIS_MAX_CONNECTIONS", 1000),
        # The longest one Redis call waits (a stopped Redis accepts connections and never answers):
        # with Redis unreachable a send answers 503 queue_unavailable well within 2 s.
        "REDIS_TIMEOUT_MS": _int(environ, "REDIS_TIMEOUT_MS", 500),
        # A connection whose request line and headers have not all arrived this long after it opened
        # (or after its previous request) is closed: half-sent requests cannot hold the process.
        "HEADER_TIMEOUT_SECONDS": _int(environ, "HEADER_TIMEOUT_SECONDS", 10),
        # Open connections one peer address may hold (0: no cap; off behind PROXY_FIX_HOPS proxies).
        "MAX_CONNECTIONS_PER_ADDRESS": _int(environ, "MAX_CONNECTIONS_PER_ADDRESS", 200),
        "CLIENT_URLS": client_urls,
        # Where uploaded files live: MongoDB's GridFS (shared by every process, kept across restarts
        # with MONGO_URI) or UPLOAD_DIR on this machine's disk.
        "STORAGE_BACKEND": storage_backend,
        "UPLOAD_DIR": os.path.abspath(environ.get("UPLOAD_DIR", "./uploads")),
        "MAX_UPLOAD_MB": max_upload_mb,
        "MAX_UPLOAD_BYTES": max_upload_mb * 1024 * 1024,
        "MAX_IMAGES_PER_SEND": max_images,
        # Images with more pixels are refused (413 image_too_large) before they are decoded.
        "MAX_IMAGE_PIXELS": max_image_pixels,
        # Per user, in MiB, the stored size of their uploads (not thumbnails); 0: no quota.
        "STORAGE_QUOTA_MB": storage_quota_mb,
        "THUMBNAIL_MAX_SIDE": 320,
        # Re-encoded JPEGs (images whose EXIF was removed) and JPEG thumbnails.
        "JPEG_QUALITY": 90,
        # A multipart send may carry ten images and one file, each up to the per-file cap.
        "MAX_CONTENT_LENGTH": (max_images + 1) * max_upload_mb * 1024 * 1024 + 1024 * 1024,
        "MAX_JSON_BYTES": _int(environ, "MAX_JSON_KB", 64) * 1024,
        # update-profile also takes the picture as a base64 data URL inside JSON: one upload's worth.
        "MAX_PROFILE_JSON_BYTES": max_upload_mb * 1024 * 1024 * 4 // 3 + 64 * 1024,
        "FIREBASE_CREDENTIALS": environ.get("FIREBASE_CREDENTIALS") or None,
        "MAX_DEVICES_PER_USER": _int(environ, "MAX_DEVICES_PER_USER", 10),
        "PUSH_BODY_MAX_CHARS": 100,
        "RATELIMIT_ENABLED": _bool(environ.get("RATELIMIT_ENABLED"), True),
        # Signups, and failed logins, per client address (two separate budgets).
        "RATELIMIT_AUTH": environ.get("RATELIMIT_AUTH", "10/minute"),
        # Failed logins per account (by email), from any address: slows guessing spread over many.
        "RATELIMIT_LOGIN_ACCOUNT": environ.get("RATELIMIT_LOGIN_ACCOUNT", "20/hour"),
        "RATELIMIT_SEND": environ.get("RATELIMIT_SEND", "20/second"),
        "RATELIMIT_SOCKET_EVENTS": environ.get("RATELIMIT_SOCKET_EVENTS", "50/second"),
        # typing / stop-typing per user, all their sockets together (over it: a rate_limited ack).
        "RATELIMIT_TYPING": environ.get("RATELIMIT_TYPING", "5/second"),
        # A connection refused this often keeps flooding after being told to slow down: drop it.
        "RATELIMIT_SOCKET_REFUSALS": environ.get("RATELIMIT_SOCKET_REFUSALS", "100/minute"),
        # Sockets one user may hold at once, on all processes together (one more: connect_error; 0: no cap).
        "MAX_SOCKETS_PER_USER": _int(environ, "MAX_SOCKETS_PER_USER", 20),
        "PRESENCE_TTL_SECONDS": _int(environ, "PRESENCE_TTL_SECONDS", 90),
        # A connection without a signed-in Socket.IO session this long (after opening, or after its
        # session ended) is closed; 45 s is socket.io's own connectTimeout, lenient in reconnect storms.
        "SOCKET_CONNECT_TIMEOUT_SECONDS": _int(environ, "SOCKET_CONNECT_TIMEOUT_SECONDS", 45),
        # Engine.IO's heartbeat: the server pings each connection this often, and closes one whose client
        # has not answered a ping within the timeout (socket.io's defaults).
        "SOCKET_PING_INTERVAL_SECONDS": ping_interval,
        "SOCKET_PING_TIMEOUT_SECONDS": ping_timeout,
        # How often each process drops sockets whose token was revoked or outdated elsewhere.
        "SESSION_SWEEP_SECONDS": _int(environ, "SESSION_SWEEP_SECONDS", 5),
        # The per-user event stream: how long events are kept for catching up (a TTL index), how long a
        # socket waits for a missing seq (a write that failed) before skipping it, and how often each
        # process checks its sockets' users for events whose live announcement was lost.
        "EVENT_RETENTION_DAYS": _int(environ, "EVENT_RETENTION_DAYS", 30),
        "EVENT_GAP_MS": _int(environ, "EVENT_GAP_MS", 2000),
        "EVENT_CHECK_SECONDS": _int(environ, "EVENT_CHECK_SECONDS", 5),
        # On the embedded database, how often expired events are swept (0: never). MongoDB's TTL index
        # does it there (its monitor runs every 60 s); the embedded database's emulation of one would
        # cost a scan of every event at every access.
        "EVENT_SWEEP_SECONDS": _int(environ, "EVENT_SWEEP_SECONDS", 60),
        # Direct chats whose id each process remembers, so that a send into them needs no lookup.
        "CHAT_ID_CACHE_SIZE": _int(environ, "CHAT_ID_CACHE_SIZE", 50000),
        "SYNC_PAGE_DEFAULT": SYNC_PAGE_DEFAULT,
        "SYNC_PAGE_MAX": SYNC_PAGE_MAX,
        # How many users' documents each process keeps for checking its sockets' tokens at every event
        # without a database read (least recently used dropped first; 0 reads the database every time).
        "SESSION_CACHE_USERS": _int(environ, "SESSION_CACHE_USERS", 10000),
        "MESSAGE_TEXT_MAX": MESSAGE_TEXT_MAX,
        # Message lifecycle: how long after sending its sender may edit / delete a message for
        # everyone (0 turns that off); a reply's preview length; forward targets; a reaction's size.
        "EDIT_WINDOW_MINUTES": _int(environ, "EDIT_WINDOW_MINUTES", 15),
        "DELETE_WINDOW_HOURS": _int(environ, "DELETE_WINDOW_HOURS", 48),
        "REPLY_PREVIEW_CHARS": REPLY_PREVIEW_CHARS,
        "FORWARD_MAX_TARGETS": 5,
        "REACTION_MAX_CODE_POINTS": 16,
        # Group chats: members in all (the creator included), and the longest group name.
        "MAX_GROUP_MEMBERS": _int(environ, "MAX_GROUP_MEMBERS", 256),
        "GROUP_NAME_MAX": 100,
        "SEARCH_QUERY_MAX": SEARCH_QUERY_MAX,
        "CLIENT_MESSAGE_ID_MAX": CLIENT_MESSAGE_ID_MAX,
        "PAGE_DEFAULT": PAGE_DEFAULT,
        "PAGE_MAX": PAGE_MAX,
        "FULL_NAME_MAX": FULL_NAME_MAX,
        "PASSWORD_MIN": PASSWORD_MIN,
        "BCRYPT_LOG_ROUNDS": _int(environ, "BCRYPT_LOG_ROUNDS", 4 if env_name == "testing" else 12),
        # flask-jwt-extended
        "JWT_SECRET_KEY": jwt_secret,
        "SECRET_KEY": jwt_secret,
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(seconds=_int(environ, "JWT_EXPIRES", 604800)),
        "JWT_TOKEN_LOCATION": ["headers", "cookies"],
        "JWT_ACCESS_COOKIE_NAME": "jwt",
        "JWT_COOKIE_SAMESITE": "Lax",
        "JWT_COOKIE_SECURE": production,
        # SameSite=Lax plus an origin-restricted CORS policy stands in for double-submit CSRF tokens,
        # which the public contract does not ask clients to send (see SECURITY.md).
        "JWT_COOKIE_CSRF_PROTECT": False,
        "JWT_SESSION_COOKIE": False,
        # flask-smorest / OpenAPI
        "API_TITLE": "ChatBox API",
        "API_VERSION": "1.0.0",
        # 3.1: schemas are plain JSON Schema (nullable fields are `type: [..., "null"]`), shared with AsyncAPI.
        "OPENAPI_VERSION": "3.1.0",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        # Swagger UI's assets come from the installed flask-swagger-ui package (chatbox/apidocs): no CDN.
        "OPENAPI_SWAGGER_UI_URL": "/api/docs/assets/",
        "PROPAGATE_EXCEPTIONS": False,
    }
