"""Issuing JWTs and turning a presented token into a signed-in user (one path for REST and sockets)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask_jwt_extended import create_access_token, decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
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


def user_from_claims(claims: dict[str, Any]) -> User:
    """The user a verified token speaks for, or 401/403 as the contract says."""
    user_id = parse_object_id(str(claims.get("sub", "")))
    user = User.objects(id=user_id).first() if user_id else None
    if user is None:
        raise unauthorized("This token's user no longer exists.", "invalid_token")
    if claims.get("ver") != user.token_version:
        raise unauthorized("This token was issued before the password changed.", "token_outdated")
    if RevokedToken.objects(jti=claims.get("jti")).count():
        raise unauthorized("This token has been revoked.", "token_revoked")
    ensure_may_use_account(user)
    return user


def user_from_token(token: str) -> tuple[User, dict[str, Any]]:
    """The user a presented token speaks for, and the token's claims (app context needed)."""
    try:
        claims = decode_token(token)
    except ExpiredSignatureError as exc:
        raise unauthorized("Your session has expired.", "token_expired") from exc
    except (PyJWTError, JWTExtendedException, ValueError) as exc:
        raise unauthorized("The token is not valid.", "invalid_token") from exc
    return user_from_claims(claims), claims


@dataclass
class TokenSession:
    """What a long-lived connection (a socket) keeps of the token it was opened with."""

    user_id: str
    jti: str
    version: int
    expires_at: int
    checked_at: datetime = field(default_factory=utcnow)

    @classmethod
    def of(cls, user: User, claims: dict[str, Any]) -> TokenSession:
        return cls(str(user.id), str(claims["jti"]), int(claims.get("ver", -1)), int(claims["exp"]))


def user_for_session(session: TokenSession) -> User:
    """Re-check a connection's token on use: an older token stops working for sockets too."""
    user = User.objects(id=session.user_id).first()
    if user is None:
        raise unauthorized("This token's user no longer exists.", "invalid_token")
    ensure_may_use_account(user)
    if user.token_version != session.version:
        raise unauthorized("This token was issued before the password changed.", "token_outdated")
    if time.time() >= session.expires_at:
        raise unauthorized("Your session has expired.", "token_expired")
    # The revocation list is asked only after this user logged out somewhere since the last check.
    if user.last_revocation_at is not None and user.last_revocation_at >= session.checked_at:
        if RevokedToken.objects(jti=session.jti).count():
            raise unauthorized("This token has been revoked.", "token_revoked")
        session.checked_at = utcnow()
    return user


def revoke(claims: dict[str, Any]) -> None:
    expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC).replace(tzinfo=None)
    RevokedToken.objects(jti=claims["jti"]).upsert_one(set__expires_at=expires_at)
    user_id = parse_object_id(str(claims.get("sub", "")))
    if user_id is not None:
        User.objects(id=user_id).update_one(set__last_revocation_at=utcnow())
