"""Account actions: each state change is one function that routes, sockets and the CLI share."""

from __future__ import annotations

import logging
from typing import Any, BinaryIO

from mongoengine import NotUniqueError

from chatbox.admin.actions import first_account_is_admin
from chatbox.auth.tokens import ensure_may_use_account, issue_token, new_account_mark, revoke
from chatbox.errors import ApiError
from chatbox.files.actions import delete_stored_files, store_image_data_url, store_upload
from chatbox.models import User
from chatbox.models.ids import utcnow
from chatbox.models.stored_file import PURPOSE_AVATAR
from chatbox.push.actions import unregister_device
from chatbox.runtime import Runtime

log = logging.getLogger("chatbox.auth")

_WRONG_CREDENTIALS = "Email or password is incorrect."
_dummy_hashes: dict[int, bytes] = {}


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _password_matches(rt: Runtime, user: User | None, password: str) -> bool:
    if len(password.encode("utf-8")) > 72:
        return False
    if user is None:
        # Same bcrypt cost for unknown emails, so response time does not reveal which emails exist.
        rounds = rt.config["BCRYPT_LOG_ROUNDS"]
        if rounds not in _dummy_hashes:
            _dummy_hashes[rounds] = rt.bcrypt.generate_password_hash("not-a-real-password")
        rt.bcrypt.check_password_hash(_dummy_hashes[rounds], password)
        return False
    return rt.bcrypt.check_password_hash(user.password_hash, password)


def sign_up(rt: Runtime, full_name: str, email: str, password: str) -> tuple[User, str]:
    user = User(
        full_name=full_name.strip(),
        email=normalize_email(email),
        password_hash=rt.bcrypt.generate_password_hash(password).decode(),
        is_admin=first_account_is_admin(rt.config),
        sessions_changed_at=new_account_mark(),
    )
    try:
        user.save(force_insert=True)
    except NotUniqueError as exc:
        raise ApiError(409, "An account with this email already exists.", "email_taken") from exc
    return user, issue_token(user)


def log_in(rt: Runtime, email: str, password: str, address: str) -> tuple[User, str]:
    """Sign in. Failed attempts are limited per client address (RATELIMIT_AUTH) and per account
    (RATELIMIT_LOGIN_ACCOUNT, by email whether or not it exists, so a 429 reveals nothing). Once
    either budget is spent every attempt is refused, a correct password too: answering it would let
    guessing go on at full speed. Successful sign-ins and signups never use these budgets."""
    email = normalize_email(email)
    by_address = (rt.config["RATELIMIT_AUTH"], "login-failures", address)
    by_account = (rt.config["RATELIMIT_LOGIN_ACCOUNT"], "login-failures-account", email)
    rt.limiter.check(*by_address)
    rt.limiter.check(*by_account)
    user = User.objects(email=email).first()
    if not _password_matches(rt, user, password) or user is None:
        rt.limiter.allows(*by_address)
        rt.limiter.allows(*by_account)
        raise ApiError(401, _WRONG_CREDENTIALS, "invalid_credentials")
    ensure_may_use_account(user)
    return user, issue_token(user)


def log_out(rt: Runtime, user: User, claims: dict[str, Any], fcm_token: str | None) -> None:
    revoke(claims)
    if fcm_token:
        unregister_device(user, fcm_token)
    _drop_stale_sockets(rt, user)


def _drop_stale_sockets(rt: Runtime, user: User) -> None:
    """Now, in this process and (announced on Redis) in the others; each process's sweep catches up
    within SESSION_SWEEP_SECONDS with what an announcement missed."""
    try:
        rt.sessions.recheck_user(str(user.id))
    except Exception:  # the change itself is done; the sweep retries the sockets
        log.exception("could not re-check the sockets of %s", user.id)


def update_profile(
    rt: Runtime,
    user: User,
    full_name: str | None,
    upload: tuple[BinaryIO, str] | None = None,
    data_url: str | None = None,
) -> User:
    new_file = None
    if upload is not None:
        new_file = store_upload(rt.storage, user.id, upload[0], upload[1], PURPOSE_AVATAR, images_only=True)
    elif data_url:
        new_file = store_image_data_url(rt.storage, user.id, data_url, PURPOSE_AVATAR)
    if full_name is None and new_file is None:
        raise ApiError(400, "Send a fullName or a profilePic to update.", "nothing_to_update")
    changes: dict[str, Any] = {}
    if full_name is not None:
        changes["set__full_name"] = full_name.strip()
    old_file_id = user.profile_pic_file_id
    if new_file is not None:
        changes["set__profile_pic"] = new_file.url
        changes["set__profile_pic_file_id"] = new_file.id
    # Sockets' events see the new name and picture: forgotten everywhere now, and by each process's
    # sweep should the announcement be lost.
    User.objects(id=user.id).update_one(**changes, set__sessions_changed_at=utcnow())
    rt.sessions.user_changed(str(user.id))
    if new_file is not None and old_file_id:
        delete_stored_files(rt.storage, [old_file_id])
    user.reload()
    return user


def change_password(rt: Runtime, user: User, current_password: str, new_password: str) -> str:
    if not _password_matches(rt, user, current_password):
        raise ApiError(400, "The current password is incorrect.", "wrong_current_password")
    new_hash = rt.bcrypt.generate_password_hash(new_password).decode()
    User.objects(id=user.id).update_one(
        set__password_hash=new_hash, inc__token_version=1, set__sessions_changed_at=utcnow()
    )
    user.reload()
    _drop_stale_sockets(rt, user)
    return issue_token(user)
