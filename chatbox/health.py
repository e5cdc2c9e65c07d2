from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app, jsonify

from chatbox.api import Blueprint
from chatbox.db import ping
from chatbox.realtime.scale_out import queue_status
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


class LimitsSchema(ma.Schema):
    messageTextMax = ma.fields.Integer(required=True, metadata={"description": "Characters of a message's text"})
    clientMessageIdMax = ma.fields.Integer(required=True, metadata={"description": "Characters of a clientMessageId"})
    searchQueryMax = ma.fields.Integer(required=True, metadata={"description": "Characters of a search text"})
    pageDefault = ma.fields.Integer(required=True, metadata={"description": "Items of a page when ?limit= is absent"})
    pageMax = ma.fields.Integer(required=True, metadata={"description": "Largest ?limit= of a paginated list"})
    syncPageMax = ma.fields.Integer(required=True, metadata={"description": "Largest ?limit= of GET /api/sync"})
    maxImagesPerSend = ma.fields.Integer(required=True, metadata={"description": "`images` parts of one send"})
    maxUploadMb = ma.fields.Integer(required=True, metadata={"description": "MiB of one uploaded file"})
    maxImagePixels = ma.fields.Integer(required=True, metadata={"description": "Pixels of one image"})
    storageQuotaMb = ma.fields.Integer(required=True, metadata={"description": "MiB a user may store (0: no quota)"})
    editWindowMinutes = ma.fields.Integer(required=True, metadata={"description": "0: editing is off"})
    deleteWindowHours = ma.fields.Integer(required=True, metadata={"description": "0: delete for everyone is off"})
    forwardMaxTargets = ma.fields.Integer(required=True, metadata={"description": "Targets of one forward"})
    maxGroupMembers = ma.fields.Integer(required=True, metadata={"description": "Members of a group, creator included"})
    fullNameMax = ma.fields.Integer(required=True, metadata={"description": "Characters of a full name"})
    passwordMin = ma.fields.Integer(required=True, metadata={"description": "Characters of a new password, at least"})
    replyPreviewChars = ma.fields.Integer(
        required=True, metadata={"description": "Characters of the quoted text a reply keeps"}
    )
    groupNameMax = ma.fields.Integer(required=True, metadata={"description": "Characters of a group name"})


@blp.route("/api/limits")
@blp.response(200, LimitsSchema)
def limits() -> Any:
    """This server's limits, as configured: clients size their inputs from these instead of copying them."""
    config = current_app.config
    return {
        "messageTextMax": config["MESSAGE_TEXT_MAX"],
        "clientMessageIdMax": config["CLIENT_MESSAGE_ID_MAX"],
        "searchQueryMax": config["SEARCH_QUERY_MAX"],
        "pageDefault": config["PAGE_DEFAULT"],
        "pageMax": config["PAGE_MAX"],
        "syncPageMax": config["SYNC_PAGE_MAX"],
        "maxImagesPerSend": config["MAX_IMAGES_PER_SEND"],
        "maxUploadMb": config["MAX_UPLOAD_MB"],
        "maxImagePixels": config["MAX_IMAGE_PIXELS"],
        "storageQuotaMb": config["STORAGE_QUOTA_MB"],
        "editWindowMinutes": config["EDIT_WINDOW_MINUTES"],
        "deleteWindowHours": config["DELETE_WINDOW_HOURS"],
        "forwardMaxTargets": config["FORWARD_MAX_TARGETS"],
        "maxGroupMembers": config["MAX_GROUP_MEMBERS"],
        "groupNameMax": config["GROUP_NAME_MAX"],
        "fullNameMax": config["FULL_NAME_MAX"],
        "passwordMin": config["PASSWORD_MIN"],
        "replyPreviewChars": config["REPLY_PREVIEW_CHARS"],
    }
