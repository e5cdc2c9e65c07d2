"""The contract's documents and pages: /api/asyncapi.json, /api/events, and Swagger UI's assets for /api/docs.

Everything is served by this server from installed packages (Swagger UI from `flask-swagger-ui`'s bundled
copy), so the pages work without network access. The OpenAPI document and the /api/docs page itself
are flask-smorest's (OPENAPI_SWAGGER_UI_URL points it at the assets here).
"""

from __future__ import annotations

import json
from copy import deepcopy
from pathlib import Path
from typing import Any

import flask_swagger_ui
from flask import Blueprint, Response, current_app, jsonify, render_template, request, send_from_directory

from chatbox.apidocs.asyncapi import build_asyncapi
from chatbox.errors import not_found

SWAGGER_UI_DIR = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
SWAGGER_UI_ASSETS = frozenset(
    {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-16x16.png",
        "favicon-32x32.png",
        "LICENSE",
        "VERSION",
    }
)
ASSETS_URL = "/api/docs/assets/"
_CACHE_KEY = "chatbox.asyncapi"

blp = Blueprint("apidocs", __name__, template_folder="templates")


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI document, with this request's host in its server entry."""
    app = current_app
    if _CACHE_KEY not in app.extensions:
        app.extensions[_CACHE_KEY] = build_asyncapi(app.extensions["chatbox.api"], app.config, "", False)
    document = deepcopy(app.extensions[_CACHE_KEY])
    server = document["servers"]["chatbox"]
    server["host"] = request.host
    server["protocol"] = "wss" if request.scheme == "https" else "ws"
    return document


@blp.route("/api/asyncapi.json")
def asyncapi_json() -> Response:
    return jsonify(asyncapi_document())


def _events_for_page(document: dict[str, Any]) -> list[dict[str, Any]]:
    messages = document["channels"]["chat"]["messages"]
    rows = []
    for operation in document["operations"].values():
        message = messages[operation["messages"][0]["$ref"].rsplit("/", 1)[1]]
        reply = operation.get("reply")
        ack = messages[reply["messages"][0]["$ref"].rsplit("/", 1)[1]] if reply else None
        rows.append(
            {
                "name": message["name"],
                "direction": "client → server" if operation["action"] == "receive" else "server → client",
                "anchor": ("client-" if operation["action"] == "receive" else "server-") + message["name"],
                "summary": message["summary"],
                "payload": json.dumps(message["payload"], indent=2, ensure_ascii=False),
                "ack_summary": ack["summary"] if ack else None,
                "ack": json.dumps(ack["payload"], indent=2, ensure_ascii=False) if ack else None,
            }
        )
    return rows


@blp.route("/api/events")
def events_page() -> str:
    """Every Socket.IO event, rendered on the server from the AsyncAPI document (no script, no network)."""
    document = asyncapi_document()
    schemas = {
        name: json.dumps(schema, indent=2, ensure_ascii=False)
        for name, schema in document["components"]["schemas"].items()
    }
    return render_template("events.html", info=document["info"], events=_events_for_page(document), schemas=schemas)


@blp.route(f"{ASSETS_URL}<name>")
def swagger_ui_asset(name: str) -> Response:
    if name not in SWAGGER_UI_ASSETS:
        raise not_found()
    response = send_from_directory(SWAGGER_UI_DIR, name, max_age=3600)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
