from __future__ import annotations

from typing import Any

from chatbox.api import Blueprint
from chatbox.auth.guard import auth_required, current_user
from chatbox.auth.schemas import PublicUserSchema
from chatbox.runtime import runtime
from chatbox.users import actions, queries, schemas
from chatbox.users.presenting import public_users

blp = Blueprint("users", __name__, url_prefix="/api/users", description="Block and pin")


def _ids(values: list[Any]) -> list[str]:
    return [str(v) for v in values]


@blp.route("/block/<user_id>", methods=["POST"])
@auth_required
@blp.response(200, schemas.BlockedListSchema)
@blp.error(400, "The id is my own")
@blp.error(404, "Unknown user")
@blp.secured()
def block(user_id: str) -> dict[str, Any]:
    blocked = actions.block(runtime(), current_user(), user_id)
    return {"blockedUsers": _ids(blocked)}


@blp.route("/unblock/<user_id>", methods=["POST"])
@auth_required
@blp.response(200, schemas.BlockedListSchema)
@blp.error(400, "The id is my own")
@blp.error(404, "Unknown user")
@blp.secured()
def unblock(user_id: str) -> dict[str, Any]:
    blocked = actions.unblock(runtime(), current_user(), user_id)
    return {"blockedUsers": _ids(blocked)}


@blp.route("/blocked")
@auth_required
@blp.response(200, PublicUserSchema(many=True))
@blp.secured()
def blocked() -> list[dict[str, Any]]:
    return public_users(runtime(), current_user(), queries.listed_users(current_user(), queries.BLOCKED))


@blp.route("/pin/<user_id>", methods=["POST"])
@auth_required
@blp.response(200, schemas.PinnedListSchema)
@blp.error(400, "The id is my own")
@blp.error(404, "Unknown user")
@blp.secured()
def pin(user_id: str) -> dict[str, Any]:
    return {"pinnedChats": _ids(actions.pin(runtime(), current_user(), user_id))}


@blp.route("/unpin/<user_id>", methods=["POST"])
@auth_required
@blp.response(200, schemas.PinnedListSchema)
@blp.error(400, "The id is my own")
@blp.error(404, "Unknown user")
@blp.secured()
def unpin(user_id: str) -> dict[str, Any]:
    return {"pinnedChats": _ids(actions.unpin(runtime(), current_user(), user_id))}


@blp.route("/pinned")
@auth_required
@blp.response(200, PublicUserSchema(many=True))
@blp.secured()
def pinned() -> list[dict[str, Any]]:
    return public_users(runtime(), current_user(), queries.listed_users(current_user(), queries.PINNED))
