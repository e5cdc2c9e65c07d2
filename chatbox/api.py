"""flask-smorest glue: schemas validate input and describe it in the OpenAPI document at once."""

from __future__ import annotations

from typing import Any

import flask_smorest
import marshmallow as ma
from webargs.flaskparser import FlaskParser


class ArgumentsParser(FlaskParser):
    # The contract says a field of the wrong type is 400 (not webargs' default 422).
    DEFAULT_VALIDATION_STATUS = 400


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = ArgumentsParser()


class ErrorSchema(ma.Schema):
    message = ma.fields.String(required=True)
    code = ma.fields.String(required=True)
    details = ma.fields.Raw()


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = "Error"


class BaseSchema(ma.Schema):
    """Input schemas ignore unknown keys so that newer clients keep working against older servers."""

    class Meta:
        unknown = ma.EXCLUDE


class ObjectIdString(ma.fields.String):
    """A 24-hex id in a request body."""

    default_error_messages = {"invalid_id": "Not a valid id."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        from chatbox.models.ids import is_object_id

        if not is_object_id(text):
            raise self.make_error("invalid_id")
        return text


class PageArgs(BaseSchema):
    limit = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1, max=100))
    cursor = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


class SearchPageArgs(PageArgs):
    q = ma.fields.String(load_default="", validate=ma.validate.Length(max=100))
