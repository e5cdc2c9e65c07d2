"""Administration: the rule on who may administer, and one function per state change of an account.

The REST API (chatbox/admin/routes.py) and the command line (chatbox/cli.py) call the same functions.
Each change that takes an account's right to sign in away (deactivate, block, revoke sessions) marks the
user's sessions as changed, so every process drops their open sockets: at once here and, announced on
Redis by `rt.sessions.recheck_user`, on every other process (each forgets the user's cached document);
the command line (no runtime here) announces through `rt.sessions.user_changed` itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from mongoengine import Q

from chatbox.errors import ApiError, bad_request, forbidden, not_found
from chatbox.models import User
from chatbox.models.ids import parse_object_id, utcnow
from chatbox.pagination import Page, decode_cursor, encode_cursor
from chatbox.runtime import Runtime
from chatbox.users.queries import name_or_email_containing

log = logging.getLogger("chatbox.admin")


# --- the rule ----------------------------------------------------------------------------------------


def ensure_admin(user: User) -> None:
    """Only accounts with isAdmin may use the administration API."""
    if not user.is_admin:
        raise forbidden("This needs an administrator account.", "admin_only")


def first_account_is_admin(config: dict[str, Any]) -> bool:
    """The first account on an empty embedded database administers it, in development only (there the
    command line cannot reach the running server's in-memory data)."""
    return config["CHATBOX_ENV"] == "development" and not config["MONGO_URI"] and not User.objects.limit(1).count()


# --- finding accounts ------------------------------------------------------------------------------


def account_by_email(email: str) -> User:
    user = User.objects(email=email.strip().lower()).first()
    if user is None:
        raise ApiError(404, f"No user with email {email}.", "user_not_found")
    return user


def account_by_id(user_id: str) -> User:
    oid = parse_object_id(user_id)
    user = User.objects(id=oid).first() if oid else None
    if user is None:
        raise not_found("No such user.", "user_not_found")
    return user


def list_accounts(limit: int, cursor: str | None, text: str) -> Page:
    """Every account, oldest first (by id), optionally those whose name or email contains `text`."""
    query = name_or_email_containing(text)
    position = decode_cursor(cursor)
    if position is not None:
        try:
            query &= Q(id__gt=ObjectId(str(position["i"])))
        except (KeyError, InvalidId, TypeError) as exc:
            raise ApiError(400, "The cursor is not valid.", "invalid_cursor") from exc
    rows = list(User.objects(query).order_by("id").limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor({"i": str(rows[-1].id)}) if more else None)


# --- state changes -----------------------------------------------------------------------------------

# (runtime or None outside a server, the account, the administrator asking or None for the CLI)
AccountChange = Callable[[Runtime | None, User, User | None], User]


def _not_myself(admin: User | None, user: User) -> None:
    if admin is not None and admin.id == user.id:
        raise bad_request("Administrators cannot lock themselves out.", "self_not_allowed")


def _change(rt: Runtime | None, user: User, drops_sessions: bool, **changes: Any) -> User:
    if drops_sessions:
        changes["set__sessions_changed_at"] = utcnow()
    User.objects(id=user.id).update_one(**changes)
    user.reload()
    if drops_sessions and rt is not None:
        try:
            rt.sessions.recheck_user(str(user.id))
        except Exception:  # the change is stored; the sweep of every process drops the sockets anyway
            log.exception("could not re-check the sockets of %s", user.id)
    return user


def deactivate(rt: Runtime | None, user: User, admin: User | None = None) -> User:
    _not_myself(admin, user)
    return _change(rt, user, True, set__is_active=False)


def activate(rt: Runtime | None, user: User, admin: User | None = None) -> User:
    return _change(rt, user, True, set__is_active=True)


def block(rt: Runtime | None, user: User, admin: User | None = None) -> User:
    _not_myself(admin, user)
    return _change(rt, user, True, set__is_blocked=True)


def unblock(rt: Runtime | None, user: User, admin: User | None = None) -> User:
    return _change(rt, user, True, set__is_blocked=False)


def revoke_sessions(rt: Runtime | None, user: User, admin: User | None = None) -> User:
    """Every token issued so far stops working (as after a password change); the account stays usable."""
    return _change(rt, user, True, inc__token_version=1)


def make_admin(rt: Runtime | None, user: User, admin: User | None = None) -> User:
    return _change(rt, user, False, set__is_admin=True)


def revoke_admin(rt: Runtime | None, user: User, admin: User | None = None) -> User:
    return _change(rt, user, False, set__is_admin=False)
