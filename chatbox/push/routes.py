from __future__ import annotations

from typing import Any

import marshmallow as ma

from chatbox.api import BaseSchema, Blueprint
from chatbox.auth.guard import auth_required, current_user
from chatbox.auth.schemas import OkSchema
from chatbox.push.actions import register_device, unregister_device
from chatbox.runtime import runtime

blp = Blueprint("push", __name__, url_prefix="/api/push", description="Device tokens for push notifications")


# FCM registration tokens are printable ASCII without spaces.
FCM_TOKEN = {
    "required": True,
    "validate": [ma.validate.Length(min=1, max=4096), ma.validate.Regexp("^[!-~]+$", error="Not a device token.")],
    "metadata": {"pattern": "^[!-~]+$"},
}


class RegisterSchema(BaseSchema):
    token = ma.fields.String(**FCM_TOKEN)
    platform = ma.fields.String(
        load_default=None, allow_none=True, validate=ma.validate.OneOf(["android", "ios", "web"])
    )


class UnregisterSchema(BaseSchema):
    token = ma.fields.String(**FCM_TOKEN)


@blp.route("/register-fcm", methods=["POST"])
@auth_required
@blp.arguments(RegisterSchema)
@blp.response(200, OkSchema)
@blp.secured()
def register_fcm(body: dict[str, Any]) -> dict[str, Any]:
    register_device(current_user(), body["token"], body["platform"], runtime().config["MAX_DEVICES_PER_USER"])
    return {"message": "Device registered."}


@blp.route("/unregister-fcm", methods=["POST"])
@auth_required
@blp.arguments(UnregisterSchema)
@blp.response(200, OkSchema)
@blp.secured()
def unregister_fcm(body: dict[str, Any]) -> dict[str, Any]:
    unregister_device(current_user(), body["token"])
    return {"message": "Device unregistered."}
