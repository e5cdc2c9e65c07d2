"""flask-smorest glue: schemas validate input and describe it in the OpenAPI document at once.

Beyond flask-smorest's own decorators, the `Blueprint` here documents what the contract needs:
`secured()` (bearer or cookie auth, with its 401/403), `error(status, why)` (the spec's error shape),
and `body(...)` (a request body offered as JSON and/or multipart). The `Api` also caps the size of
every non-multipart request body (MAX_JSON_BYTES → 413).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from copy import deepcopy
from functools import wraps
from typing import Any, TypeVar, cast

import flask_smorest
import marshmallow as ma
from apispec import APISpec
from flask import Flask, current_app, request
from flask_smorest.spec.plugins import FlaskPlugin
from webargs.flaskparser import FlaskParser

from chatbox.errors import ApiError
from config import PAGE_DEFAULT, PAGE_MAX

F = TypeVar("F", bound=Callable[..., Any])

SECURITY = [{"bearerAuth": []}, {"cookieAuth": []}]
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "jwt"},
}
OBJECT_ID_PATTERN = "^[0-9a-f]{24}$"
NO_NUL_PATTERN = "^[^\\u0000]*$"
# Cursors are URL-safe base64 (see chatbox/pagination.py); the server may still refuse one it did not issue.
CURSOR_PATTERN = "^[A-Za-z0-9_-]+$"
_BODY_LOCATIONS = {"json", "form", "files", "json_or_form"}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}}}


class ArgumentsParser(FlaskParser):
    # The contract says a field of the wrong type is 400 (not webargs' default 422).
    DEFAULT_VALIDATION_STATUS = 400

    def load_form(self, req: Any, schema: ma.Schema) -> Any:
        """A form field given twice where the schema takes one value is refused, not cut to its first value."""
        repeated = {
            name: ["Send one value."]
            for name, field in schema.fields.items()
            if not isinstance(field, ma.fields.List) and len(req.form.getlist(field.data_key or name)) > 1
        }
        if repeated:
            raise ma.ValidationError(repeated)
        return super().load_form(req, schema)

    def load_files(self, req: Any, schema: ma.Schema) -> Any:
        """A file field sent as a text field (`images=abc`) is refused, not ignored."""
        not_files = {
            name: ["Must be a file."] for name, field in schema.fields.items() if (field.data_key or name) in req.form
        }
        if not_files:
            raise ma.ValidationError(not_files)
        return super().load_files(req, schema)


class ErrorSchema(ma.Schema):
    message = ma.fields.String(required=True, metadata={"description": "A human sentence"})
    code = ma.fields.String(required=True, metadata={"description": "snake_case", "pattern": "^[a-z][a-z0-9_]*$"})
    details = ma.fields.Raw(metadata={"description": "Per-field messages of a validation error"})


def _with_apidoc(func: F, update: Callable[[dict[str, Any]], None]) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return current_app.ensure_sync(func)(*args, **kwargs)

    apidoc = deepcopy(getattr(func, "_apidoc", {}))
    update(apidoc)
    wrapper._apidoc = apidoc  # type: ignore[attr-defined]
    return cast(F, wrapper)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = ArgumentsParser()

    def error(self, status: int, description: str) -> Callable[[F], F]:
        """Document an error answer `{message, code, details?}`; several reasons for one status are joined."""

        def update(apidoc: dict[str, Any]) -> None:
            entries = apidoc.setdefault("response", {}).setdefault("responses", {}).setdefault(status, [])
            for entry in entries:
                if isinstance(entry, dict) and entry.get("schema") is ErrorSchema:
                    if description not in entry["description"].split("; "):
                        entry["description"] = f"{description}; {entry['description']}"
                    return
            entry: dict[str, Any] = {"schema": ErrorSchema, "description": description, "content_type": None}
            if status in (429, 503):
                entry["headers"] = deepcopy(_RETRY_AFTER)
            entries.append(entry)

        return lambda func: _with_apidoc(func, update)

    @staticmethod
    def json_limit(config_key: str) -> Callable[[F], F]:
        """Let this route's JSON body grow to `config[config_key]` bytes instead of MAX_JSON_BYTES.

        Place it right under `@blp.route`, so that it marks the function Flask calls.
        """

        def decorator(func: F) -> F:
            func._json_limit_key = config_key  # type: ignore[attr-defined]
            return func

        return decorator

    def secured(self) -> Callable[[F], F]:
        """A signed-in call: bearer token or `jwt` cookie; 401 without a valid token, 403 for a barred account."""

        def decorator(func: F) -> F:
            func = self.error(401, "No valid token: missing, expired, revoked or issued before a password change")(func)
            func = self.error(
                403,
                "The account is deactivated or blocked by an administrator, or a cookie-authenticated "
                "request came from another site (origin_not_allowed)",
            )(func)
            return cast(F, self.doc(security=SECURITY)(func))

        return decorator

    def body(self, *, required: bool = True, **content: type[ma.Schema] | ma.Schema) -> Callable[[F], F]:
        """Document the request body, one schema per media type (`json=`, `multipart=`).

        It replaces what flask-smorest would infer from `arguments(location="json_or_form" | "files")`,
        which it cannot describe (it would emit a non-OpenAPI parameter location).
        """
        media_types = {"json": "application/json", "multipart": "multipart/form-data"}
        body = {
            "required": required,
            "content": {media_types[key]: {"schema": schema} for key, schema in content.items()},
        }

        def update(apidoc: dict[str, Any]) -> None:
            apidoc["request_body"] = body

        return lambda func: _with_apidoc(func, update)

    def _prepare_arguments_doc(self, doc: dict[str, Any], doc_info: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        arguments = doc_info.get("arguments")
        explicit_body = doc_info.get("request_body")
        if arguments and explicit_body:
            # Body-like arguments are described by `body()`; keep only real parameters (path, query...).
            arguments["parameters"] = [
                p for p in arguments["parameters"] if not (isinstance(p, dict) and p["in"] in _BODY_LOCATIONS)
            ]
        doc = super()._prepare_arguments_doc(doc, doc_info, **kwargs)
        if explicit_body:
            doc["requestBody"] = deepcopy(explicit_body)
            if not doc.get("parameters"):
                doc.pop("parameters", None)
        content = (doc.get("requestBody") or {}).get("content", {})
        if any(media != "multipart/form-data" for media in content):
            # Every non-multipart body is capped (see Api._cap_body_size).
            responses = doc_info.setdefault("response", {}).setdefault("responses", {})
            if 413 not in responses:
                responses[413] = [
                    {
                        "schema": ErrorSchema,
                        "description": "The request body is larger than the limit",
                        "content_type": None,
                    }
                ]
        return doc


def _input_text_pattern(self: Any, field: ma.fields.Field, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Request text refuses NUL (see BaseSchema): say so in the document, where no stricter pattern is set."""
    if isinstance(field, ma.fields.String) and isinstance(field.parent, BaseSchema) and "pattern" not in ret:
        return {"pattern": NO_NUL_PATTERN}
    return {}


def _drop_null_default(self: Any, field: ma.fields.Field, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """`load_default=None` on a non-nullable field means "absent", not a documented `null` default."""
    if "default" in ret and ret["default"] is None and not ret.get("nullable"):
        del ret["default"]
    return {}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


class ContractPathsPlugin(FlaskPlugin):
    """Path parameters named as in the reference (`{userId}`, not the view's `user_id`), and an
    `operationId` for every operation: `<blueprint><ViewName>`, e.g. `messagesSend`.

    Path ids carry no pattern: `/api/messages/contacts` is also a (refused) `/api/messages/{messageId}`
    to the router, and a path id that is not an id is 404 like an unknown one."""

    def path_helper(self, rule: Any, operations: dict[str, Any], parameters: list[Any], **kwargs: Any) -> str:
        path = super().path_helper(rule, operations, parameters, **kwargs)
        for parameter in parameters:
            if isinstance(parameter, dict) and parameter.get("in") == "path":
                snake = parameter["name"]
                parameter["name"] = _camel(snake)
                path = path.replace("{" + snake + "}", "{" + parameter["name"] + "}")
        blueprint, _, view = rule.endpoint.partition(".")
        operation_id = _camel(blueprint) + _camel(view)[:1].upper() + _camel(view)[1:]
        for method, operation in operations.items():
            suffix = method.capitalize() if len(operations) > 1 else ""
            operation.setdefault("operationId", operation_id + suffix)
            responses = operation.setdefault("responses", {})
            # Any URL may be too long for the HTTP server, and any body of a state-changing request too
            # large for the body cap (see _cap_body_size), whether or not the operation takes a body.
            responses.setdefault("414", _error_response("The URL is too long"))
            if method.upper() in {"POST", "PUT", "PATCH", "DELETE"}:
                responses.setdefault("413", _error_response("The request body is larger than the limit"))
        return path


class Api(flask_smorest.Api):
    """flask-smorest's Api, with the blueprints' operations written into the document when it is first read.

    Building the document is most of the cost of `create_app` (apispec resolves and copies every schema of
    every operation), and most apps never serve it: each test creates its own app, and a server serves the
    document only when a client asks. So `register_blueprint` routes the blueprint at once and keeps its
    documentation for later; the first read of `spec` (the OpenAPI JSON route, the docs pages, the AsyncAPI
    builder, the `flask openapi` command) documents every blueprint registered so far, in registration
    order, and then returns the whole document, as an eager build would have.
    """

    ERROR_SCHEMA = ErrorSchema
    # No catch-all "default" response: each operation lists the statuses it really answers with.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def __init__(self, app: Flask | None = None, **kwargs: Any) -> None:
        # (blueprint, name, url prefix parameters) registered but not yet in the document.
        self._undocumented: list[tuple[flask_smorest.Blueprint, str, list[Any] | None]] = []
        self._spec: APISpec | None = None
        super().__init__(app, **kwargs)

    @property
    def spec(self) -> APISpec | None:
        # Building never yields to another greenlet (no I/O), so two first requests cannot interleave here.
        # A blueprint leaves the queue only once documented: if that raised, every later read raises too,
        # rather than serving a document with operations missing.
        while self._undocumented and self._spec is not None:
            blueprint, name, parameters = self._undocumented[0]
            blueprint.register_views_in_doc(self, self._app, self._spec, name=name, parameters=parameters)
            self._spec.tag({"name": name, "description": blueprint.description})
            self._undocumented.pop(0)
        return self._spec

    @spec.setter
    def spec(self, value: APISpec | None) -> None:
        self._spec = value

    def register_blueprint(
        self, blp: flask_smorest.Blueprint, *, parameters: list[Any] | None = None, **options: Any
    ) -> None:
        """As flask-smorest's, except that the blueprint's operations enter the document on its first read."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, name, parameters))

    def init_app(self, app: Flask, *, spec_kwargs: dict[str, Any] | None = None) -> None:
        spec_kwargs = deepcopy({**self._spec_kwargs, **(spec_kwargs or {})})
        spec_kwargs.setdefault("flask_plugin", ContractPathsPlugin())
        spec_kwargs.setdefault("components", {}).setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
        super().init_app(app, spec_kwargs=spec_kwargs)
        self.ma_plugin.converter.add_attribute_function(_drop_null_default)
        self.ma_plugin.converter.add_attribute_function(_input_text_pattern)
        app.before_request(_cap_body_size)


def _cap_body_size() -> None:
    """JSON (and any other non-multipart) bodies may be at most MAX_JSON_BYTES; uploads have their own caps."""
    if request.mimetype == "multipart/form-data" or request.method in {"GET", "HEAD", "OPTIONS"}:
        return
    view = current_app.view_functions.get(request.endpoint or "")
    limit = current_app.config[getattr(view, "_json_limit_key", "MAX_JSON_BYTES")]
    too_large = ApiError(413, f"The request body may be at most {limit // 1024} KB.", "body_too_large")
    if request.content_length is not None:
        if request.content_length > limit:
            raise too_large
        request.max_content_length = limit
        return
    # A chunked body has no Content-Length: read (and cache) at most one byte past the cap to tell.
    request.max_content_length = limit + 1
    if len(request.get_data(cache=True)) > limit:
        raise too_large


_UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")


def _unstorable_strings(value: Any, path: str = "") -> dict[str, list[str]]:
    """Strings MongoDB cannot store (lone UTF-16 surrogates) or that no client means to send (NUL)."""
    if isinstance(value, str):
        return (
            {path or "_schema": ["Contains characters that are not allowed."]} if _UNSTORABLE_TEXT.search(value) else {}
        )
    found: dict[str, list[str]] = {}
    items = value.items() if isinstance(value, Mapping) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found.update(_unstorable_strings(item, f"{path}.{key}" if path else str(key)))
    return found


class BaseSchema(ma.Schema):
    """Input schemas ignore unknown keys so that newer clients keep working against older servers,
    and refuse text that cannot be stored, whatever the field."""

    class Meta:
        unknown = ma.EXCLUDE

    @ma.pre_load
    def _refuse_unstorable_text(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, Mapping | list):
            found = _unstorable_strings(data)
            if found:
                raise ma.ValidationError(found)
        return data


class ObjectIdString(ma.fields.String):
    """A 24-hex id in a request body."""

    default_error_messages = {"invalid_id": "Not a valid id."}

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"pattern": OBJECT_ID_PATTERN, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        from chatbox.models.ids import is_object_id

        if not is_object_id(text):
            raise self.make_error("invalid_id")
        return text


class QueryInteger(ma.fields.Integer):
    """A whole number in a query string: decimal digits only. (Python's `int()`, under marshmallow's
    Integer, also takes "+1", " 1" or "1_0", which no client means.)"""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str) and not (value.isascii() and value.isdigit()):
            raise self.make_error("invalid")
        return int(super()._deserialize(value, attr, data, **kwargs))


def object_id(**kwargs: Any) -> ma.fields.String:
    """A 24-hex id in a response."""
    return ma.fields.String(metadata={"pattern": OBJECT_ID_PATTERN, **kwargs.pop("metadata", {})}, **kwargs)


def timestamp(**kwargs: Any) -> ma.fields.String:
    """An ISO 8601 UTC time ending in Z, in a response."""
    return ma.fields.String(metadata={"format": "date-time", **kwargs.pop("metadata", {})}, **kwargs)


class PageArgs(BaseSchema):
    limit = QueryInteger(
        load_default=None,
        allow_none=False,
        validate=ma.validate.Range(min=1, max=PAGE_MAX),
        metadata={"description": f"Page size (default {PAGE_DEFAULT})"},
    )
    cursor = ma.fields.String(
        load_default=None,
        allow_none=False,
        validate=[ma.validate.Length(min=1, max=200), ma.validate.Regexp(CURSOR_PATTERN)],
        metadata={
            "description": "The X-Next-Cursor of the previous page, unchanged (400 invalid_cursor for a cursor "
            "this server did not issue)",
            "pattern": CURSOR_PATTERN,
        },
    )
