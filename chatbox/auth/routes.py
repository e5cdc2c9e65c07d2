from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask_jwt_extended import get_jwt, set_access_cookies, unset_jwt_cookies

from chatbox.api import Blueprint
from chatbox.auth import schemas, service
from chatbox.auth.guard import auth_required, current_user
from chatbox.runtime import runtime
from chatbox.users.presenting import public_user

blp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Accounts and sign-in")
SECURED = [{"bearerAuth": []}, {"cookieAuth": []}]


def _limit_by_client_address() -> None:
    rt = runtime()
    rt.limiter.hit(rt.config["RATELIMIT_AUTH"], "auth", request.remote_addr or "unknown")


def _signed_in(user_dict: dict[str, Any], token: str, status: int) -> Response:
    response = jsonify({**user_dict, "token": token})
    response.status_code = status
    set_access_cookies(response, token)
    return response


@blp.route("/signup", methods=["POST"])
@blp.arguments(schemas.SignupSchema)
@blp.response(201, schemas.AuthUserSchema)
@blp.alt_response(409, description="Email already registered")
@blp.alt_response(429, description="Too many attempts")
def signup(body: dict[str, Any]) -> Response:
    _limit_by_client_address()
    rt = runtime()
    user, token = service.sign_up(rt, body["fullName"], body["email"], body["password"])
    return _signed_in(public_user(rt, user), token, 201)


@blp.route("/login", methods=["POST"])
@blp.arguments(schemas.LoginSchema)
@blp.response(200, schemas.AuthUserSchema)
@blp.alt_response(401, description="Wrong email or password")
@blp.alt_response(403, description="Account deactivated or blocked")
@blp.alt_response(429, description="Too many attempts")
def login(body: dict[str, Any]) -> Response:
    _limit_by_client_address()
    rt = runtime()
    user, token = service.log_in(rt, body["email"], body["password"])
    return _signed_in(public_user(rt, user), token, 200)


@blp.route("/logout", methods=["POST"])
@auth_required
@blp.arguments(schemas.LogoutSchema)
@blp.response(200, schemas.OkSchema)
@blp.doc(security=SECURED)
def logout(body: dict[str, Any]) -> Response:
    service.log_out(current_user(), get_jwt(), body.get("fcmToken"))
    response = jsonify({"message": "Logged out."})
    unset_jwt_cookies(response)
    return response


@blp.route("/check")
@auth_required
@blp.response(200, schemas.PublicUserSchema)
@blp.doc(security=SECURED)
def check() -> dict[str, Any]:
    return public_user(runtime(), current_user())


@blp.route("/update-profile", methods=["PUT"])
@auth_required
@blp.arguments(schemas.ProfileJsonSchema, location="json_or_form")
@blp.arguments(schemas.ProfileFilesSchema, location="files")
@blp.response(200, schemas.PublicUserSchema)
@blp.alt_response(413, description="Image too large")
@blp.alt_response(415, description="Not a JPG or PNG image")
@blp.doc(security=SECURED)
def update_profile(body: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
    rt = runtime()
    picture = files.get("profilePic")
    upload = (picture.stream, picture.filename or "") if picture is not None else None
    user = service.update_profile(rt, current_user(), body.get("fullName"), upload, body.get("profilePic"))
    return public_user(rt, user)


@blp.route("/change-password", methods=["PUT"])
@auth_required
@blp.arguments(schemas.ChangePasswordSchema)
@blp.response(200, schemas.TokenSchema)
@blp.doc(security=SECURED)
def change_password(body: dict[str, Any]) -> Response:
    token = service.change_password(runtime(), current_user(), body["currentPassword"], body["newPassword"])
    response = jsonify({"token": token})
    set_access_cookies(response, token)
    return response
