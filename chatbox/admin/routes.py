"""The administration API: accounts with isAdmin list and search users and switch accounts off and on."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, jsonify

from chatbox.admin import actions
from chatbox.api import Blueprint, PageArgs, object_id, timestamp
from chatbox.auth.guard import auth_required, current_user
from chatbox.models import User
from chatbox.pagination import NEXT_CURSOR_HEADER, page_size
from chatbox.runtime import runtime

blp = Blueprint("admin", __name__, url_prefix="/api/admin", description="Administration (accounts with isAdmin)")


class AccountsArgs(PageArgs):
    q = ma.fields.String(
        load_default="",
        validate=ma.validate.Length(max=100),
        metadata={"description": "Part of the name or email (literal, case-insensitive)"},
    )


class AccountSchema(ma.Schema):
    _id = object_id(required=True)
    fullName = ma.fields.String(required=True)
    email = ma.fields.String(required=True)
    profilePic = ma.fields.String(required=True)
    lastSeen = timestamp(allow_none=True, required=True)
    isOnline = ma.fields.Boolean(required=True, metadata={"description": "Always false here"})
    createdAt = timestamp(required=True)
    isActive = ma.fields.Boolean(required=True)
    isBlocked = ma.fields.Boolean(required=True)
    isAdmin = ma.fields.Boolean(required=True)


def _admin() -> User:
    admin = current_user()
    actions.ensure_admin(admin)
    return admin


@blp.route("/users")
@auth_required
@blp.arguments(AccountsArgs, location="query")
@blp.response(
    200,
    AccountSchema(many=True),
    description="Every account (active or not), oldest first; paginated",
    headers={
        NEXT_CURSOR_HEADER: {
            "description": "Cursor of the next page; absent on the last page",
            "schema": {"type": "string"},
        }
    },
)
@blp.error(400, "Invalid limit, cursor or q")
@blp.error(403, "Not an administrator (admin_only)")
@blp.secured()
def accounts(args: dict[str, Any]) -> Response:
    _admin()
    page = actions.list_accounts(page_size(args["limit"], runtime().config), args["cursor"], args["q"])
    response = jsonify([user.to_admin_dict() for user in page.items])
    if page.next_cursor:
        response.headers[NEXT_CURSOR_HEADER] = page.next_cursor
    return response


def _change(name: str, change: actions.AccountChange, summary: str, refuses_self: bool) -> None:
    def view(user_id: str) -> dict[str, Any]:
        admin = _admin()
        return change(runtime(), actions.account_by_id(user_id), admin).to_admin_dict()

    view.__name__ = name
    view.__doc__ = summary
    view = blp.secured()(view)
    view = blp.error(404, "Unknown user")(view)
    view = blp.error(403, "Not an administrator (admin_only)")(view)
    if refuses_self:
        view = blp.error(400, "An administrator cannot do this to their own account (self_not_allowed)")(view)
    view = blp.response(200, AccountSchema, description="The account after the change")(view)
    view = auth_required(view)
    blp.route(f"/users/<user_id>/{name.replace('_', '-')}", methods=["POST"])(view)


_change("deactivate", actions.deactivate, "Switch the account off: it gets 403 and its sockets are dropped.", True)
_change("activate", actions.activate, "Switch a deactivated account on again.", False)
_change("block", actions.block, "Block the account: it gets 403 and its sockets are dropped.", True)
_change("unblock", actions.unblock, "Lift an administrator's block.", False)
_change(
    "revoke_sessions",
    actions.revoke_sessions,
    "Every token of the account stops working (401 token_outdated) and its sockets are dropped; it may sign in again.",
    False,
)
