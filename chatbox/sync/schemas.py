from __future__ import annotations

import marshmallow as ma

from chatbox.api import BaseSchema, QueryInteger, timestamp
from config import SYNC_PAGE_DEFAULT, SYNC_PAGE_MAX

# An int64: MongoDB cannot compare with anything larger (and no stream gets near it).
MAX_SEQ = 2**63 - 1


def _since(strict: bool) -> ma.fields.Integer:
    # strict: a socket event's JSON number; otherwise a query string's digits.
    return (ma.fields.Integer if strict else QueryInteger)(
        load_default=0,
        strict=strict,
        validate=ma.validate.Range(min=0, max=MAX_SEQ),
        metadata={"description": "The last seq applied (0: from the start)"},
    )


def _limit(strict: bool) -> ma.fields.Integer:
    return (ma.fields.Integer if strict else QueryInteger)(
        load_default=None,
        strict=strict,
        validate=ma.validate.Range(min=1, max=SYNC_PAGE_MAX),
        metadata={"description": f"Events per answer (default {SYNC_PAGE_DEFAULT})"},
    )


class SyncArgs(BaseSchema):
    since = _since(strict=False)
    limit = _limit(strict=False)


class SyncEvent(BaseSchema):
    """The socket `sync` payload: JSON numbers only."""

    since = _since(strict=True)
    limit = _limit(strict=True)


class StreamEventSchema(ma.Schema):
    seq = ma.fields.Integer(required=True)
    event = ma.fields.String(required=True)
    data = ma.fields.Raw(required=True, metadata={"description": "The payload, exactly as emitted live"})
    createdAt = timestamp(required=True)


class SyncResultSchema(ma.Schema):
    events = ma.fields.List(ma.fields.Nested(StreamEventSchema), metadata={"description": "Absent on a reset"})
    position = ma.fields.Integer(required=True, metadata={"description": "My latest seq (0 before any event)"})
    hasMore = ma.fields.Boolean(metadata={"description": "More events follow: ask again from the last seq"})
    reset = ma.fields.Boolean(
        metadata={"description": "Present (true) when since is older than what is kept: refetch lists"}
    )
