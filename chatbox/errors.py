"""One error type for every refusal, and the handlers that turn anything into the spec's JSON shape."""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import Flask, Response, jsonify
from pymongo.errors import ConnectionFailure, PyMongoError, ServerSelectionTimeoutError
from werkzeug.exceptions import HTTPException

log = logging.getLogger("chatbox.errors")

_CODES_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
}


# webargs reports validation messages per request location; clients only care about the fields.
_LOCATIONS = {"json", "form", "json_or_form", "query", "files", "view_args"}


class ApiError(Exception):
    """A refusal the client should see: HTTP status, a human sentence and a snake_case code."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES_BY_STATUS.get(status, "error")
        self.details = details
        self.headers = headers or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body


class QueueUnavailable(ApiError):
    """With REDIS_URL set, Redis (the message queue) is unreachable: 503, try again shortly."""

    RETRY_AFTER_SECONDS = 2

    def __init__(self) -> None:
        super().__init__(
            503,
            "The message queue is unavailable; try again shortly.",
            "queue_unavailable",
            headers={"Retry-After": str(self.RETRY_AFTER_SECONDS)},
        )


def bad_request(message: str, code: str = "bad_request", details: Any = None) -> ApiError:
    return ApiError(400, message, code, details)


def not_found(message: str = "Not found.", code: str = "not_found") -> ApiError:
    return ApiError(404, message, code)


def forbidden(message: str, code: str = "forbidden") -> ApiError:
    return ApiError(403, message, code)


def error_response(error: ApiError) -> Response:
    response = jsonify(error.to_dict())
    response.status_code = error.status
    for key, value in error.headers.items():
        response.headers[key] = value
    return response


def _from_http_exception(exc: HTTPException) -> ApiError:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    if "messages" in data:
        # webargs validation failure: one sentence plus the per-field messages.
        details = data["messages"]
        if isinstance(details, dict) and len(details) == 1:
            ((location, fields),) = details.items()
            if fields == ["Invalid JSON body."]:
                return ApiError(400, "The request body is not valid JSON.", "invalid_json")
            details = fields if location in _LOCATIONS else details
        return ApiError(400, "The request is not valid.", "validation_error", details)
    if status == 400 and isinstance(exc.description, str) and "JSON" in exc.description:
        return ApiError(400, "The request body is not valid JSON.", "invalid_json")
    messages = {
        404: "No such resource.",
        405: "That method is not allowed on this resource.",
        413: "The request is too large.",
        415: "Unsupported media type.",
    }
    message = messages.get(status) or (exc.description if isinstance(exc.description, str) else exc.name)
    # Keep the exception's own headers (405's Allow, 401's WWW-Authenticate...), not its HTML content type.
    headers = {key: value for key, value in exc.get_headers() if key.lower() != "content-type"}
    code = _CODES_BY_STATUS.get(status, exc.name.lower().replace(" ", "_"))
    return ApiError(status, message, code, headers=headers)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return error_response(error)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return error_response(_from_http_exception(exc))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(ApiError(500, "Something went wrong on our side.", "internal_error"))

    @app.errorhandler(redis.RedisError)
    def _queue_unavailable(exc: redis.RedisError) -> Response:
        log.error("Redis unavailable: %s", exc)
        return error_response(QueueUnavailable())

    @app.errorhandler(PyMongoError)
    def _database_unavailable(exc: PyMongoError) -> Response:
        if not isinstance(exc, (ConnectionFailure, ServerSelectionTimeoutError)):
            return _unexpected(exc)
        log.error("database unavailable: %s", exc)
        return error_response(ApiError(503, "The database is unavailable; try again shortly.", "database_unavailable"))
