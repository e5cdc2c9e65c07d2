"""ChatBox: a real-time 1-on-1 chat backend. `create_app()` builds one independent instance."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask_bcrypt import Bcrypt
from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_socketio import SocketIO
from werkzeug.middleware.proxy_fix import ProxyFix

from chatbox.api import Api
from chatbox.db import connect_database, create_indexes, expiry_sweep
from chatbox.errors import register_error_handlers
from chatbox.files.images import configure_pillow
from chatbox.files.storage import FileStorage
from chatbox.messages.chat_ids import ChatIdCache
from chatbox.push.delivery import build_push_service
from chatbox.ratelimit import RateLimiter
from chatbox.realtime.builders import build_event_bus, build_presence, build_sequencer
from chatbox.realtime.engine import use_lean_engine
from chatbox.realtime.namespace import ChatNamespace
from chatbox.realtime.notifier import Notifier
from chatbox.realtime.packet_guards import MalformedPacketGuard, PollingPayloadGuard
from chatbox.realtime.scale_out import EVENT_BUS_KEY, QueueManager, build_redis_health, start_scale_out
from chatbox.realtime.sessions import SessionCache, SessionGuard
from chatbox.realtime.socketio_options import socketio_options
from chatbox.realtime.unclaimed_connections import UnclaimedConnectionCloser
from chatbox.runtime import EXTENSION_KEY, REDIS_HEALTH_KEY, Runtime
from chatbox.security import register_origin_check, register_security_headers
from config import build_config

log = logging.getLogger("chatbox")


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config.from_mapping(build_config())
    if overrides:
        app.config.update(overrides)
    if app.config.get("PROXY_FIX_HOPS"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_HOPS"])  # type: ignore[method-assign]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    connect_database(app.config["MONGO_URI"], app.config["MONGO_DB_NAME"], app.config["MONGO_TIMEOUT_MS"])
    configure_pillow(app.config["MAX_IMAGE_PIXELS"])
    if app.config["AUTO_CREATE_INDEXES"]:
        create_indexes(app.config["EVENT_RETENTION_DAYS"])

    register_security_headers(app)
    register_origin_check(app)
    CORS(
        app,
        origins=app.config["CLIENT_URLS"],
        supports_credentials=True,
        expose_headers=["X-Next-Cursor", "Retry-After", "X-Sync-Position"],
    )
    JWTManager(app)

    redis_health = build_redis_health(app.config)
    app.extensions[REDIS_HEALTH_KEY] = redis_health
    options = socketio_options(app.config, redis_health)
    socketio = SocketIO(app, **options)
    use_lean_engine(socketio.server, options)
    sequencer = build_sequencer(app.config, socketio.server)
    event_bus = build_event_bus(app.config, sequencer, socketio.server)
    app.extensions[EVENT_BUS_KEY] = event_bus
    rt = Runtime(
        config=app.config,
        bcrypt=Bcrypt(app),
        limiter=RateLimiter(
            app.config["RATELIMIT_ENABLED"],
            app.config["REDIS_URL"],
            redis_health,
            app.config["REDIS_TIMEOUT_MS"] / 1000,
        ),
        storage=FileStorage.from_config(app.config),
        presence=build_presence(app.config),
        notifier=Notifier(socketio.server, event_bus),
        push=build_push_service(app.config, spawn=socketio.start_background_task),
        sessions=SessionGuard(
            socketio.server,
            app.config["SESSION_SWEEP_SECONDS"],
            # With REDIS_URL, usable once the queue's listener is subscribed; without it, only on the
            # embedded database (then no other process can change a user).
            SessionCache(
                app.config["SESSION_CACHE_USERS"], usable=not app.config["REDIS_URL"] and not app.config["MONGO_URI"]
            ),
        ),
        unclaimed_connections=UnclaimedConnectionCloser(socketio.server, app.config["SOCKET_CONNECT_TIMEOUT_SECONDS"]),
        sequencer=sequencer,
        chat_ids=ChatIdCache(app.config["CHAT_ID_CACHE_SIZE"]),
    )
    app.extensions[EXTENSION_KEY] = rt
    socketio.server.register_namespace(ChatNamespace(app, rt))
    packet_guard = MalformedPacketGuard(socketio.server, rt)
    app.wsgi_app = PollingPayloadGuard(app.wsgi_app, packet_guard, app.config["MAX_JSON_BYTES"])  # type: ignore[method-assign]
    heartbeat = start_scale_out(app, socketio.server, rt)
    sweep = expiry_sweep(
        app.config["EVENT_RETENTION_DAYS"], app.config["EVENT_SWEEP_SECONDS"], socketio.server.start_background_task
    )
    rt.background.extend(task for task in (event_bus, heartbeat) if task is not None)
    if isinstance(socketio.server.manager, QueueManager):
        rt.background.append(socketio.server.manager)
    if sweep is not None:
        rt.background.append(sweep.start())
    app.extensions["chatbox.socketio"] = socketio

    api = Api(app)  # chatbox/api.py declares the security schemes
    app.extensions["chatbox.api"] = api
    # After Api(): our handlers (spec-shaped JSON errors) must win over the ones flask-smorest registers.
    register_error_handlers(app)

    from chatbox.admin.routes import blp as admin_blp
    from chatbox.apidocs.routes import blp as apidocs_blp
    from chatbox.auth.routes import blp as auth_blp
    from chatbox.chats.routes import blp as chats_blp
    from chatbox.files.routes import blp as files_blp
    from chatbox.health import blp as health_blp
    from chatbox.messages.routes import blp as messages_blp
    from chatbox.push.routes import blp as push_blp
    from chatbox.sync.routes import blp as sync_blp
    from chatbox.users.routes import blp as users_blp
    from chatbox.web.routes import blp as web_blp

    blueprints = (auth_blp, users_blp, messages_blp, chats_blp, files_blp, push_blp, health_blp, sync_blp, admin_blp)
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    # The browser client and the documents' pages are not API operations: they stay out of the document.
    app.register_blueprint(web_blp)
    app.register_blueprint(apidocs_blp)

    from chatbox.cli import register_cli

    register_cli(app)
    return app


def socketio_of(app: Flask) -> SocketIO:
    return app.extensions["chatbox.socketio"]
