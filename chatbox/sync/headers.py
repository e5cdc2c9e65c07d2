"""`X-Sync-Position` on list answers: the user's stream position read before the list itself."""

from __future__ import annotations

from flask import Response

from chatbox.sync.queries import SYNC_POSITION_HEADER

# For `@blp.response(..., headers=...)` of every endpoint that carries it.
SYNC_POSITION_DOC = {
    SYNC_POSITION_HEADER: {
        "description": "My event stream position, read before this list: resume the socket from it",
        "schema": {"type": "integer", "minimum": 0},
        "required": True,
    }
}


def with_sync_position(response: Response, position: int) -> Response:
    response.headers[SYNC_POSITION_HEADER] = str(position)
    return response
