from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask_jwt_extended import get_jwt, set_access_cookies, unset_jwt_cookies

from chatbox.api import Blueprint
from chatbox.auth import actions, schemas
from chatbox.auth.guard import auth_required, current_user
from chatbox.runtime import runtime
from chatbox.sync import queries as sync
from chatbox.sync.headers import SYNC_POSITION_DOC, with_sync_position
from chatbox.users.presenting import own_user

blp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Accounts and sign-in")


def _client_address() -> str:
    return request.remote_addr or "unknown"


def _set_token_cookie(response: Response, token: str) -> None:
    # The cookie lives as long as the token it carries (the library's default is a year).
    lifetime = runtime().config["JWT_ACCESS_TOKEN_EXPIRES"]
    set_access_cookies(response, token, max_age=int(lifetime.total_seconds()))


def _signed_in(user_dict: dict[str, Any], token: str, status: int) -> Response:
    response = jsonify({**user_dict, "token": token})
    response.status_code = status
    _set_token_cookie(response, token)
    return response


@blp.route("/signup", methods=["POST"])
@blp.arguments(schemas.SignupSchema)
@blp.response(201, schemas.AuthUserSchema, description="The new user and a token; also sets the jwt cookie")
@blp.error(409, "Email already registered")
@blp.error(429, "Too many attempts from this address")
def signup(body: dict[str, Any]) -> Response:
    rt = runtime()
    rt.limiter.hit(rt.config["RATELIMIT_AUTH"], "signup", _client_address())
    user, token = actions.sign_up(rt, body["fullName"], body["email"], body["password"])
    return _signed_in(own_user(rt, user), token, 201)


@blp.route("/login", methods=["POST"])
@blp.arguments(schemas.LoginSchema)
@blp.response(200, schemas.AuthUserSchema, description="The user and a token; also sets the jwt cookie")
@blp.error(401, "Wrong email or password")
@blp.error(403, "Account deactivated or blocked by an administrator")
@blp.error(429, "Too many failed attempts from this address or for this account")
def login(body: dict[str, Any]) -> Response:
    rt = runtime()
    user, token = actions.log_in(rt, body["email"], body["password"], _client_address())
    return _signed_in(own_user(rt, user), token, 200)


@blp.route("/logout", methods=["POST"])
@auth_required
@blp.arguments(schemas.LogoutSchema, required=False)
@blp.response(200, schemas.OkSchema, description="The token is revoked and the cookie cleared")
@blp.secured()
def logout(body: dict[str, Any]) -> Response:
    actions.log_out(runtime(), current_user(), get_jwt(), body.get("fcmToken"))
    response = jsonify({"message": "Logged out."})
    unset_jwt_cookies(response)
    return response


@blp.route("/check")
@auth_required
@blp.response(200, schemas.OwnUserSchema, headers=SYNC_POSITION_DOC)
@blp.secured()
def check() -> Response:
    position = sync.position(current_user())
    return with_sync_position(jsonify(own_user(runtime(), current_user())), position)


@blp.route("/update-profile", methods=["PUT"])
@blp.json_limit("MAX_PROFILE_JSON_BYTES")
@auth_required
@blp.arguments(schemas.ProfileJsonSchema, location="json_or_form")
@blp.arguments(schemas.ProfileFilesSchema, location="files")
@blp.body(json=schemas.ProfileJsonSchema, multipart=schemas.ProfileMultipartSchema)
@blp.response(200, schemas.OwnUserSchema)
@blp.error(400, "Nothing to update, or profilePic is not a base64 data URL")
@blp.error(413, "Image too large (file_too_large, image_too_large) or past my storage quota (quota_exceeded)")
@blp.error(415, "Not a decodable JPG or PNG image")
@blp.secured()
def update_profile(body: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
    rt = runtime()
    picture = files.get("profilePic")
    upload = (picture.stream, picture.filename or "") if picture is not None else None
    user = actions.update_profile(rt, current_user(), body.get("fullName"), upload, body.get("profilePic"))
    return own_user(rt, user)


@blp.route("/change-password", methods=["PUT"])
@auth_required
@blp.arguments(schemas.ChangePasswordSchema)
@blp.response(200, schemas.TokenSchema, description="A new token; every older token stops working")
@blp.error(400, "The current password is wrong, or the new one is not valid")
@blp.secured()
def change_password(body: dict[str, Any]) -> Response:
    token = actions.change_password(runtime(), current_user(), body["currentPassword"], body["newPassword"])
    response = jsonify({"token": token})
    _set_token_cookie(response, token)
    return response
