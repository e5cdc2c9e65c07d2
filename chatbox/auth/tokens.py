"""Issuing JWTs and turning a presented token into a signed-in user (one path for REST and sockets)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_jwt_extended import create_access_token, decode_token
from flask_jwt_extended.exceptions import JWTExtendedException, NoAuthorizationError
from jwt.exceptions import ExpiredSignatureError, PyJWTError

from chatbox.errors import ApiError
from chatbox.models import RevokedToken, User
from chatbox.models.ids import parse_object_id, utcnow


def issue_token(user: User) -> str:
    return create_access_token(identity=str(user.id), additional_claims={"ver": user.token_version})


def unauthorized(message: str = "You need to sign in.", code: str = "unauthorized") -> ApiError:
    return ApiError(401, message, code)


def ensure_may_use_account(user: User) -> None:
    if not user.is_active:
        raise ApiError(403, "This account is deactivated.", "account_deactivated")
    if user.is_blocked:
        raise ApiError(403, "This account has been blocked by an administrator.", "account_blocked")


# What every token we accept carries: we issue nothing else, so a token without one of these (or of
# another type) was not made by this server's login and is refused, on REST and sockets alike.
ACCESS_TOKEN_TYPE = "access"


def check_claims(claims: dict[str, Any]) -> None:
    """Refuse a correctly signed token that lacks `exp`, `jti` or `sub`, or is not an access token."""
    exp, jti, sub = claims.get("exp"), claims.get("jti"), claims.get("sub")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise unauthorized("The token is not valid: it has no expiry.", "invalid_token")
    if not isinstance(jti, str) or not jti or not isinstance(sub, str) or not sub:
        raise unauthorized("The token is not valid.", "invalid_token")
    if claims.get("type") != ACCESS_TOKEN_TYPE:
        raise unauthorized("The token is not valid: not an access token.", "invalid_token")


@contextmanager
def token_errors() -> Iterator[None]:
    """Turn the JWT libraries' refusals of a token into the contract's 401 answers."""
    try:
        yield
    except NoAuthorizationError as exc:
        raise unauthorized() from exc
    except ExpiredSignatureError as exc:
        raise unauthorized("Your session has expired.", "token_expired") from exc
    except (PyJWTError, JWTExtendedException, ValueError) as exc:
        raise unauthorized("The token is not valid.", "invalid_token") from exc


def user_from_claims(claims: dict[str, Any]) -> User:
    """The user a verified token speaks for, or 401/403 as the contract says. REST (guard.py) and
    sockets (`user_from_token`) both come here, so both refuse the same tokens."""
    check_claims(claims)
    user_id = parse_object_id(str(claims.get("sub", "")))
    user = User.objects(id=user_id).first() if user_id else None
    if user is None:
        raise unauthorized("This token's user no longer exists.", "invalid_token")
    if claims.get("ver") != user.token_version:
        raise unauthorized("This token was issued before the password changed.", "token_outdated")
    if _may_be_revoked(user, claims.get("iat")) and RevokedToken.holds(str(claims["jti"])):
        raise unauthorized("This token has been revoked.", "token_revoked")
    ensure_may_use_account(user)
    return user


def _may_be_revoked(user: User, issued_at: Any) -> bool:
    """Could the revocation list hold a token issued at `issued_at` (seconds)? Every revocation moves
    the user's `sessions_changed_at` (after storing it), as sign-up sets it first: a token issued after
    the last change cannot be on the list, and a request needs not ask it. (No mark, as for an account
    from before the mark existed, or no issue time: ask.)"""
    changed = user.sessions_changed_at
    if changed is None or not isinstance(issued_at, int) or isinstance(issued_at, bool):
        return True
    issued = datetime.fromtimestamp(issued_at, UTC).replace(tzinfo=None)
    return changed >= issued - CLOCK_MARGIN


def user_from_token(token: str) -> tuple[User, dict[str, Any]]:
    """The user a presented token speaks for, and the token's claims (app context needed)."""
    with token_errors():
        claims = decode_token(token)
    return user_from_claims(claims), claims


# How far apart two servers' clocks may be: a socket re-checks the revocation list when the user's
# sessions changed less than this before its last check (at worst a few extra lookups).
CLOCK_MARGIN = timedelta(seconds=5)


@dataclass
class TokenSession:
    """What a long-lived connection (a socket) keeps of the token it was opened with."""

    user_id: str
    jti: str
    version: int
    expires_at: int
    # When the revocation list was last known not to hold this token (taken *before* that check).
    checked_at: datetime

    @classmethod
    def of(cls, user: User, claims: dict[str, Any], checked_at: datetime) -> TokenSession:
        return cls(str(user.id), str(claims["jti"]), int(claims.get("ver", -1)), int(claims["exp"]), checked_at)


def new_account_mark() -> datetime:
    """A new account's `sessions_changed_at`: no token of it can be on the revocation list, so the mark
    is set before any of them could be issued (by the margin, and a second: `iat` counts in seconds);
    until the account's sessions change, its requests skip the revocation list."""
    return utcnow() - CLOCK_MARGIN - timedelta(seconds=1)


def user_for_session(session: TokenSession) -> User:
    """Re-check a connection's token on use: an older token stops working for sockets too."""
    return check_session(session, User.objects(id=session.user_id).first())


def check_session(session: TokenSession, user: User | None) -> User:
    """`user_for_session` with the user's document at hand (`None`: it no longer exists); it reads
    the database only to ask the revocation list, when this user's sessions changed lately."""
    if user is None:
        raise unauthorized("This token's user no longer exists.", "invalid_token")
    ensure_may_use_account(user)
    if user.token_version != session.version:
        raise unauthorized("This token was issued before the password changed.", "token_outdated")
    if time.time() >= session.expires_at:
        raise unauthorized("Your session has expired.", "token_expired")
    # The revocation list is asked only when this user's sessions changed since the last check.
    changed = user.sessions_changed_at
    if changed is not None and changed >= session.checked_at - CLOCK_MARGIN:
        checked_at = utcnow()
        if RevokedToken.holds(session.jti):
            raise unauthorized("This token has been revoked.", "token_revoked")
        session.checked_at = checked_at
    return user


def sessions_changed(user_id: Any) -> None:
    """A token of this user was revoked, or their password, account state, profile or blocks changed:
    open connections must re-check their token (and read the user again)."""
    User.objects(id=user_id).update_one(set__sessions_changed_at=utcnow())


def revoke(claims: dict[str, Any]) -> None:
    expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC).replace(tzinfo=None)
    RevokedToken.objects(jti=claims["jti"]).upsert_one(set__expires_at=expires_at)
    user_id = parse_object_id(str(claims.get("sub", "")))
    if user_id is not None:
        sessions_changed(user_id)
