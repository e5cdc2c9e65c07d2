from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app, jsonify

from chatbox.api import Blueprint
from chatbox.db import ping
from chatbox.realtime.server import queue_status
from chatbox.runtime import REDIS_HEALTH_KEY

blp = Blueprint("health", __name__, description="Operations")


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True)
    database = ma.fields.String(required=True)
    queue = ma.fields.String(required=True)


@blp.route("/healthz")
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="The database or the message queue (Redis) is unreachable")
def healthz() -> Any:
    database_ok = ping()
    queue = queue_status(current_app.extensions.get(REDIS_HEALTH_KEY))
    healthy = database_ok and queue != "error"
    body = {"status": "ok" if healthy else "error", "database": "ok" if database_ok else "error", "queue": queue}
    response = jsonify(body)
    response.status_code = 200 if healthy else 503
    return response
