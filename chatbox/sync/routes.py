from __future__ import annotations

from typing import Any

from chatbox.api import Blueprint
from chatbox.auth.guard import auth_required, current_user
from chatbox.runtime import runtime
from chatbox.sync import queries, schemas

blp = Blueprint("sync", __name__, url_prefix="/api", description="Catching up on the event stream")

@blp.route("/sync")
@auth_required
@blp.arguments(schemas.SyncArgs, location="query")
@blp.response(200, schemas.SyncResultSchema, description="My events after since, in order; or a reset")
@blp.error(400, "since or limit is not valid (validation_error), or since is ahead of my position (invalid_since)")
@blp.secured()
def sync(args: dict[str, Any]) -> dict[str, Any]:
    return queries.catch_up(runtime(), current_user(), args["since"], args["limit"])
