from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import jsonify

from chatbox.api import Blueprint
from chatbox.db import ping
from chatbox.realtime.server import queue_status
from chatbox.runtime import runtime

blp = Blueprint("health", __name__, description="Operations")


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True)
    database = ma.fields.String(required=True)
    queue = ma.fields.String(required=True)


@blp.route("/healthz")
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="The database is unreachable")
def healthz() -> Any:
    rt = runtime()
    database_ok = ping()
    queue = queue_status(rt.config)
    body = {"status": "ok" if database_ok else "error", "database": "ok" if database_ok else "error", "queue": queue}
    response = jsonify(body)
    response.status_code = 200 if database_ok else 503
    return response
